from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults

from portal.api.problems import problem_json_response
from prompts.selectors import prompts_visible_to
from teams.selectors import namespaces_visible_to, teams_visible_to, user_roles

PROMPTS_PER_PAGE = 50


def ping(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches neither the database nor the cache."""
    return JsonResponse({"ok": True})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    prompts = prompts_visible_to(user=request.user)
    if query:
        prompts = prompts.filter(
            Q(name__icontains=query)
            | Q(namespace__slug__icontains=query)
            | Q(description__icontains=query)
        )
    page = Paginator(prompts, PROMPTS_PER_PAGE).get_page(request.GET.get("page"))
    namespaces = namespaces_visible_to(user=request.user).annotate(prompt_count=Count("prompts"))
    roles = user_roles(user=request.user)
    teams = [
        (team, roles.get(team.pk))
        for team in teams_visible_to(user=request.user).annotate(
            member_count=Count("memberships", distinct=True)
        )
    ]
    return render(
        request,
        "portal/home.html",
        {"teams": teams, "namespaces": namespaces, "page": page, "query": query},
    )


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return problem_json_response(status_code=400, code="bad_request", detail="Bad request.")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return problem_json_response(
            status_code=403, code="permission_denied", detail=str(exception or "Forbidden.")
        )
    return defaults.permission_denied(request, exception)


def api_not_found(request: HttpRequest) -> HttpResponse:
    return problem_json_response(
        status_code=404, code="not_found", detail=f"No API resource at {request.path}."
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return problem_json_response(
            status_code=500, code="server_error", detail="An unexpected error occurred."
        )
    return defaults.server_error(request)
