"""Under /api/, a body above DATA_UPLOAD_MAX_MEMORY_SIZE answers a 413 problem before anything
reads it. Django checks the limit only when `request.body` or `request.POST` is read; DRF's
parsers read the stream instead, so a JSON body of any size would otherwise be parsed."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from portal.api.problems import body_too_large_response


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # as Django reads it: no body


class BodySizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if (
            limit is not None
            and request.path.startswith("/api/")
            and _content_length(request) > limit
        ):
            return body_too_large_response()
        return self.get_response(request)
