"""DRF's session authentication, with a CSRF refusal that says what it is (`csrf_failed`, as
CSRF_FAILURE_VIEW answers outside DRF) instead of a bare `permission_denied`.

(DRF imports this module while it builds its views: it must not import portal.api.problems.)"""

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from portal.errors import ErrorCode


def csrf_failure_detail(reason: str) -> str:
    return (
        f"CSRF check failed: {reason} A session caller sends the csrftoken cookie's value in "
        "the X-CSRFToken header; a client that is not a browser uses a bearer token instead."
    )


def _no_response(request: Request) -> None:
    return None


class SessionAuthentication(authentication.SessionAuthentication):
    def enforce_csrf(self, request: Request) -> None:
        check = authentication.CSRFCheck(_no_response)
        check.process_request(request)  # reads the CSRF cookie into request.META
        reason = check.process_view(request, None, (), {})
        if reason:
            raise exceptions.PermissionDenied(
                csrf_failure_detail(reason), code=ErrorCode.CSRF_FAILED
            )
