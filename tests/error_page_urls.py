"""The site's URLs plus portal views that fail on purpose, for the error page tests
(tests/test_error_pages.py). The crash and the suspicious request come from
tests/api/error_urls.py."""

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path

from portal import urls as site
from portal.errors import NotFound, PermissionDenied
from portal.web import require_or_403
from tests.api import error_urls

REASON = "Only owners of support or staff manage its tokens."
DOMAIN_REASON = "Only people approve promotions."
MISSING = "No prompt support/nothing-here."


def forbidden(request: HttpRequest) -> HttpResponse:
    require_or_403(False, REASON)
    return HttpResponse("unreachable")


def forbidden_silently(request: HttpRequest) -> HttpResponse:
    require_or_403(False, "")
    return HttpResponse("unreachable")


def refused(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied(DOMAIN_REASON)


def missing(request: HttpRequest) -> HttpResponse:
    raise Http404(MISSING)


def missing_in_the_domain(request: HttpRequest) -> HttpResponse:
    raise NotFound(MISSING)


urlpatterns = [
    path("test/forbidden/", forbidden),
    path("test/forbidden-silently/", forbidden_silently),
    path("test/refused/", refused),
    path("test/missing/", missing),
    path("test/missing-in-the-domain/", missing_in_the_domain),
    *error_urls.urlpatterns,
]

handler400 = site.handler400
handler403 = site.handler403
handler404 = site.handler404
handler500 = site.handler500
