"""Site-wide views: liveness, sign-in and the error handlers. Under /api/ every error is an RFC 9457
problem (unknown paths in DEBUG too); the portal answers its own pages (portal/errors/*.html, in
the portal's layout), in DEBUG too (portal.error_pages)."""

import logging
import math
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.middleware.csrf import REASON_NO_CSRF_COOKIE
from django.shortcuts import render
from django.template import loader
from django.urls import Resolver404, resolve, reverse
from django.views.decorators.csrf import csrf_exempt

from portal import request_context
from portal.api.authentication import csrf_failure_detail
from portal.api.problems import (
    PROBLEM_CONTENT_TYPE,
    body_too_large_response,
    problem_body,
    problem_json_response,
)
from portal.api.throttles import LoginThrottle
from portal.errors import DomainError, ErrorCode

logger = logging.getLogger(__name__)
LANGFUSE_PREFIX = "/api/public/"  # integrations' Langfuse-compatible API (portal/urls.py)

# What the 500 page falls back to when its template cannot render: no template, no database.
PLAIN_SERVER_ERROR = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Server error · Prompt '
    "portal</title></head><body><main><h1>Something went wrong on our side</h1><p>The error is "
    'logged. Try again in a moment; <a href="/">go to the home page</a>.</p></main></body></html>'
)


def ping(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches neither the database nor the cache."""
    return JsonResponse({"ok": True})


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _sign_in_url(request: HttpRequest) -> str:
    """The sign-in page, coming back here afterwards."""
    return f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}"


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: Django's SuspiciousOperation family (a body above
    DATA_UPLOAD_MAX_MEMORY_SIZE, a Host not in ALLOWED_HOSTS, …). The page keeps the reason
    to itself (it may quote the attacker's input or the server's limits)."""
    if not _is_api(request):
        return render(request, "portal/errors/400.html", status=400)
    if isinstance(exception, RequestDataTooBig):
        return body_too_large_response()
    if isinstance(exception, DisallowedHost):
        return problem_json_response(
            status_code=400,
            code=ErrorCode.DISALLOWED_HOST,
            detail="The Host header names no site that this server answers for.",
        )
    return problem_json_response(
        status_code=400, code=ErrorCode.BAD_REQUEST, detail="The request was refused as malformed."
    )


def refusal_reason(exception: Exception | None) -> str:
    """What the service said when it refused: `require_or_403`'s detail (Django's
    PermissionDenied), a domain `PermissionDenied`'s detail; "" when it said nothing."""
    if isinstance(exception, DomainError):
        return exception.detail
    if exception is None or not exception.args:
        return ""
    return str(exception.args[0]) if isinstance(exception.args[0], str) else ""


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return problem_json_response(
            status_code=403, code=ErrorCode.PERMISSION_DENIED, detail=str(exception or "Forbidden.")
        )
    context = {"reason": refusal_reason(exception), "sign_in_url": _sign_in_url(request)}
    return render(request, "portal/errors/403.html", context, status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW, for views outside DRF (DRF's session check answers the same). In the
    portal a page that says what to do (Django's own carries an inline style the CSP refuses)."""
    if _is_api(request):
        return problem_json_response(
            status_code=403, code=ErrorCode.CSRF_FAILED, detail=csrf_failure_detail(reason)
        )
    context = {"reason": reason, "no_cookie": reason == REASON_NO_CSRF_COOKIE}
    return render(request, "portal/errors/403_csrf.html", context, status=403)


def _routed(path: str) -> bool:
    try:
        return resolve(path).func is not api_not_found
    except Resolver404:
        return False


@csrf_exempt  # a 404 changes nothing: a typo must not look like a CSRF failure
def api_not_found(request: HttpRequest) -> HttpResponse:
    detail = f"No API resource at {request.path}."
    if not request.path_info.endswith("/") and _routed(f"{request.path_info}/"):
        detail += f" Did you mean {request.path}/ (with the trailing slash)?"
    if request.path_info.startswith(LANGFUSE_PREFIX):
        # The langfuse SDK reads Langfuse's `message` and `error`, as on the routed paths.
        langfuse = {"message": detail, "error": "LangfuseNotFoundError"}
        body = problem_body(
            status_code=404, code=ErrorCode.NOT_FOUND, detail=detail, extensions=langfuse
        )
        return JsonResponse(body, status=404, content_type=PROBLEM_CONTENT_TYPE)
    return problem_json_response(status_code=404, code=ErrorCode.NOT_FOUND, detail=detail)


def not_found_detail(exception: Exception | None) -> str:
    """The message of an Http404 a view raised ("No prompt ns/name."); never the resolver's
    (a list of the URL patterns tried)."""
    if not isinstance(exception, Http404) or isinstance(exception, Resolver404):
        return ""
    if exception.args and isinstance(exception.args[0], str):
        return exception.args[0]
    return ""


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return api_not_found(request)
    context = {
        "request_path": request.path,
        "detail": not_found_detail(exception),
        "sign_in_url": _sign_in_url(request),
    }
    return render(request, "portal/errors/404.html", context, status=404)


def method_not_allowed(request: HttpRequest, refused: HttpResponse) -> HttpResponse:
    """A portal page for Django's empty 405 (a POST-only address opened in the browser)."""
    methods = [m.strip() for m in refused.get("Allow", "").split(",") if m.strip()]
    allowed = "form submission (POST)" if "POST" in methods else " or ".join(methods)
    context = {"request_path": request.path, "allowed": allowed or "request of another kind"}
    response = render(request, "portal/errors/405.html", context, status=405)
    response["Allow"] = refused.get("Allow", "")
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the problem names no exception and carries no traceback (the log has it).
    The page renders without the request (no context processor, so no session, user or
    database) and, should even that fail, falls back to plain HTML: it never raises."""
    if _is_api(request):
        return problem_json_response(
            status_code=500, code=ErrorCode.SERVER_ERROR, detail="An unexpected error occurred."
        )
    context = {"request_id": request_context.current().request_id, "debug": settings.DEBUG}
    try:
        html = loader.get_template("portal/errors/500.html").render(context)
    except Exception:
        logger.exception("The 500 page failed to render; answering plain HTML")
        html = PLAIN_SERVER_ERROR
    return HttpResponseServerError(html)


def sign_in_refusal(request: HttpRequest) -> HttpResponse | None:
    """A 429 page when this address has used up its sign-in attempts (`LOGIN_RATE`), else
    None. django-axes locks out a username and address pair; this bounds how many usernames
    one address may try (each failure is a database row). The portal's and the admin's
    sign-in both ask."""
    throttle = LoginThrottle()
    if request.method != "POST" or throttle.allow_request(request, None):
        return None
    wait = math.ceil(throttle.wait() or 1)
    response = render(request, "registration/locked_out.html", {"wait_seconds": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response


class SignInView(auth_views.LoginView):
    """Django's sign-in, within the address's sign-in rate (sign_in_refusal)."""

    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return sign_in_refusal(request) or super().post(request, *args, **kwargs)
