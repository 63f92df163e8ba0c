from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from prompts.selectors import prompts_visible_to
from teams.selectors import namespaces_visible_to, teams_visible_to, user_roles

PROMPTS_PER_PAGE = 50


@login_required
def home(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
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
