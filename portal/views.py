from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from portal.api.problems import problem_json_response
from portal.errors import ErrorCode


def ping(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches neither the database nor the cache."""
    return JsonResponse({"ok": True})


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return problem_json_response(
            status_code=400, code=ErrorCode.BAD_REQUEST, detail="Bad request."
        )
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return problem_json_response(
            status_code=403, code=ErrorCode.PERMISSION_DENIED, detail=str(exception or "Forbidden.")
        )
    return defaults.permission_denied(request, exception)


def api_not_found(request: HttpRequest) -> HttpResponse:
    return problem_json_response(
        status_code=404, code=ErrorCode.NOT_FOUND, detail=f"No API resource at {request.path}."
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return problem_json_response(
            status_code=500, code=ErrorCode.SERVER_ERROR, detail="An unexpected error occurred."
        )
    return defaults.server_error(request)
