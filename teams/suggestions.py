"""Suggestions for the portal's user and team fields (teams.widgets.SuggestInput): the
options of a datalist, fetched by htmx as one types. Someone not signed in (an expired
session) gets nothing to swap rather than the sign-in page inside the list."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from teams import selectors

MAX_QUERY = 150


def _query(request: HttpRequest, *names: str) -> str:
    """htmx sends the field's value under the field's name; a plain link may send `q`."""
    for name in ("q", *names):
        if request.GET.get(name):
            return request.GET[name].replace("\x00", "").strip()[:MAX_QUERY]
    return ""


@require_GET
def users(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponse(status=204)
    found = selectors.users_suggested(user=request.user, query=_query(request, "username"))
    options = [(user.username, user.get_full_name()) for user in found]
    return render(request, "teams/_suggestions.html", {"options": options})


@require_GET
def teams(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponse(status=204)
    found = selectors.teams_suggested(user=request.user, query=_query(request, "team"))
    options = [(team.slug, team.name) for team in found]
    return render(request, "teams/_suggestions.html", {"options": options})
