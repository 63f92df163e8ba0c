"""Site-wide views: liveness, sign-in and the error handlers. Under /api/ every error is an RFC 9457
problem (unknown paths in DEBUG too); the portal keeps Django's HTML pages."""

import math

from django.contrib.auth import views as auth_views
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt

from portal.api.authentication import csrf_failure_detail
from portal.api.problems import body_too_large_response, problem_json_response
from portal.api.throttles import LoginThrottle
from portal.errors import ErrorCode


def ping(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches neither the database nor the cache."""
    return JsonResponse({"ok": True})


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: Django's SuspiciousOperation family (a body above
    DATA_UPLOAD_MAX_MEMORY_SIZE, a Host not in ALLOWED_HOSTS, …)."""
    if not _is_api(request):
        return defaults.bad_request(request, exception)
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


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return problem_json_response(
            status_code=403, code=ErrorCode.PERMISSION_DENIED, detail=str(exception or "Forbidden.")
        )
    return defaults.permission_denied(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW, for views outside DRF (DRF's session check answers the same)."""
    if _is_api(request):
        return problem_json_response(
            status_code=403, code=ErrorCode.CSRF_FAILED, detail=csrf_failure_detail(reason)
        )
    return csrf.csrf_failure(request, reason)


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
    return problem_json_response(status_code=404, code=ErrorCode.NOT_FOUND, detail=detail)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the problem names no exception and carries no traceback (the log has it)."""
    if _is_api(request):
        return problem_json_response(
            status_code=500, code=ErrorCode.SERVER_ERROR, detail="An unexpected error occurred."
        )
    return defaults.server_error(request)


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
