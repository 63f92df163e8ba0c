"""The site's URLs plus views that fail on purpose, under /api/ and in the portal, for the tests
of the error handlers (tests/api/test_problems.py)."""

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from portal import urls as site

SECRET = "internal detail that must not reach the caller"


def plain(request: HttpRequest) -> HttpResponse:
    """A view outside DRF: Django's CSRF middleware guards it."""
    return JsonResponse({"ok": True})


def crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SECRET)


def suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation(SECRET)


@csrf_exempt
def read_body(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"length": len(request.body)})


class RefuseWithoutSayingWhen(BaseThrottle):
    def allow_request(self, request: Request, view: APIView) -> bool:
        return False

    def wait(self) -> None:
        return None


class AlwaysThrottled(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [RefuseWithoutSayingWhen]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class ApiCrash(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError(SECRET)


class ApiReadBody(APIView):
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        return Response({"length": len(request.body)})


urlpatterns = [
    path("api/v1/test/plain/", plain),
    path("api/v1/test/crash/", crash),
    path("api/v1/test/suspicious/", suspicious),
    path("api/v1/test/read-body/", read_body),
    path("api/v1/test/throttled/", AlwaysThrottled.as_view()),
    path("api/v1/test/api-crash/", ApiCrash.as_view()),
    path("api/v1/test/api-read-body/", ApiReadBody.as_view()),
    path("test/crash/", crash),
    path("test/suspicious/", suspicious),
    *site.urlpatterns,
]

handler400 = site.handler400
handler403 = site.handler403
handler404 = site.handler404
handler500 = site.handler500
