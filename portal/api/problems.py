"""Every API error as RFC 9457 `application/problem+json`: type, title, status, detail, and
`errors` per field for validation. Domain errors, DRF errors and Django's 404/403 all pass here."""

import math
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from portal.errors import DomainError, ErrorCode, Invalid
from portal.transactions import is_retryable

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:prompt-portal:problem:"

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Permission denied",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    410: "Gone",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
}


def problem_body(
    *,
    status_code: int,
    code: str,
    detail: str,
    errors: Mapping[str, list[str]] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPE_BASE}{code}",
        "title": _TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = dict(errors)
    for name, value in (extensions or {}).items():
        body.setdefault(name, value)
    return body


def problem_json_response(*, status_code: int, code: str, detail: str) -> JsonResponse:
    """For Django-level handlers (unrouted /api/ paths, crashes) outside DRF."""
    return JsonResponse(
        problem_body(status_code=status_code, code=code, detail=detail),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def body_too_large_response() -> JsonResponse:
    return problem_json_response(
        status_code=413,
        code=ErrorCode.BODY_TOO_LARGE,
        detail=f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
    )


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail -> {"field.sub.0": ["message", ...]}."""
    if isinstance(detail, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = "non_field_errors" if key in ("non_field_errors", "__all__") else str(key)
            flat.update(flatten_errors(value, f"{prefix}.{name}" if prefix else name))
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, list | Mapping) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        flat = {}
        for index, item in enumerate(detail):
            if item:
                flat.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or "non_field_errors": [str(detail)]}


def _summary(errors: Mapping[str, list[str]]) -> str:
    field, messages = next(iter(errors.items()))
    return f"{field}: {messages[0]}" if field != "non_field_errors" else messages[0]


def _from_exception(exc: Exception) -> tuple[int, str, str, dict[str, list[str]] | None]:
    if isinstance(exc, Invalid):
        return exc.status, exc.code, exc.detail, exc.errors or None
    if isinstance(exc, DomainError):
        return exc.status, exc.code, exc.detail, None
    if isinstance(exc, Http404):
        return 404, ErrorCode.NOT_FOUND, str(exc) or "Not found.", None
    if isinstance(exc, DjangoPermissionDenied):
        return 403, ErrorCode.PERMISSION_DENIED, str(exc) or "You may not do this.", None
    if isinstance(exc, OperationalError) and is_retryable(exc):
        # A deadlock or serialization failure outside a service's own retry: nothing changed.
        return 409, ErrorCode.CONCURRENT_WRITE, "A concurrent change collided; try again.", None
    if isinstance(exc, DataError):
        # Input the database cannot store or compare (NUL characters, out-of-range numbers).
        return (
            422,
            ErrorCode.INVALID,
            "A value in the request cannot be stored or searched for.",
            None,
        )
    if isinstance(exc, DjangoValidationError):
        errors = flatten_errors(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
        return 422, ErrorCode.INVALID, _summary(errors), errors
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        return 422, ErrorCode.INVALID, _summary(errors) if errors else "Invalid input.", errors
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        return exc.status_code, code, str(exc.detail), None
    raise TypeError


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    try:
        status_code, code, detail, errors = _from_exception(exc)
    except TypeError:
        return None  # an unexpected error: Django's handler500 answers (problem+json on /api/)
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        # Always a time to come back (a second at least), even from a throttle that cannot say.
        headers["Retry-After"] = str(max(1, math.ceil(getattr(exc, "wait", None) or 1)))
    view = context.get("view")
    if status_code == status.HTTP_405_METHOD_NOT_ALLOWED and view is not None:
        headers["Allow"] = ", ".join(view.allowed_methods)
    set_rollback()
    return Response(
        problem_body(
            status_code=status_code,
            code=code,
            detail=detail,
            errors=errors,
            extensions=getattr(exc, "extensions", None),
        ),
        status=status_code,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )
