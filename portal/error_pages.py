"""The site's error handlers (portal.views) answer in DEBUG too, and a domain refusal that
escapes a portal view is a 403 or 404, not a crash.

With DEBUG on Django answers a 404 with its technical page (the list of URL patterns) and a
crash or a suspicious request with its traceback page; this middleware hands them to the
handlers instead, so the embedded mode (`make run`) shows what a deployment shows. The
traceback page is not kept for the portal: `make run` is how people try the portal, the page
shows settings and source to whoever causes the error, and the strict CSP blocks its inline
style and script anyway. The traceback is in the console log (django.request, with the
request id the page shows). Under /api/ only the 404 changes (a problem, as with DEBUG off);
a crash there keeps Django's DEBUG behaviour. Django's empty 405 (a POST-only address opened
in a browser) becomes a portal page too.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core import signals
from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils.log import log_response

from portal import views
from portal.errors import NotFound, PermissionDenied


class ErrorPagesMiddleware:
    """Last in MIDDLEWARE: its process_exception runs first, and its 404 for an unknown path
    still passes CommonMiddleware (APPEND_SLASH redirects)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.DEBUG:
            try:
                resolve(request.path_info, getattr(request, "urlconf", None))
            except Resolver404 as exc:
                return views.page_not_found(request, exc)
        response = self.get_response(request)
        if response.status_code == 405 and not response.content and not views._is_api(request):
            return views.method_not_allowed(request, response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        api = views._is_api(request)
        if not api and isinstance(exception, PermissionDenied):
            # Django answers handler403 (in DEBUG too) and logs it.
            raise HttpForbidden(exception.detail) from exception
        if not api and isinstance(exception, NotFound):
            if not settings.DEBUG:
                raise Http404(exception.detail) from exception
            return views.page_not_found(request, Http404(exception.detail))
        if not settings.DEBUG:
            return None
        if isinstance(exception, Http404):
            return views.page_not_found(request, exception)  # logged as a 404 by the handler
        if api or isinstance(exception, HttpForbidden):
            return None
        if isinstance(exception, BadRequest):
            response = views.bad_request(request, exception)
            log_response(
                "%s: %s",
                str(exception),
                request.path,
                response=response,
                request=request,
                exception=exception,
            )
            return response
        if isinstance(exception, SuspiciousOperation):
            if isinstance(exception, (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)):
                request._mark_post_parse_error()  # the body cannot be read again
            response = views.bad_request(request, exception)
            log_response(
                str(exception),
                exception=exception,
                request=request,
                response=response,
                level="error",
                logger=logging.getLogger(f"django.security.{exception.__class__.__name__}"),
            )
            return response
        signals.got_request_exception.send(sender=None, request=request)
        response = views.server_error(request)
        log_response(
            "%s: %s",
            response.reason_phrase,
            request.path,
            response=response,
            request=request,
            exception=exception,
        )
        return response
