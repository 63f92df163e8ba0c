"""Portal pages for access control: teams and members, personal tokens."""

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal.errors import DomainError
from portal.web import error_status, error_text, found, report, require_or_403, submit
from teams import permissions, selectors, services, tokens
from teams.forms import (
    AccessForm,
    ActionForm,
    MemberAddForm,
    MemberRoleForm,
    NamespaceCreateForm,
    PersonalTokenForm,
    TeamForm,
)
from teams.models import ApiToken, Membership, Team

# --- Teams and members ----------------------------------------------------------------------


def _team_context(request: HttpRequest, team: Team, **overrides: Any) -> dict[str, Any]:
    user = request.user
    context = {
        "team": team,
        "can_manage": permissions.can_manage_team(user, team),
        "can_create_namespace": permissions.can_create_namespace(user, team),
        "members": selectors.team_members(team=team),
        "roles": Membership.Role.choices,
        "namespaces": selectors.namespaces_visible_to(user=user)
        .filter(team=team)
        .annotate(prompt_count=Count("prompts")),
        "team_form": TeamForm(initial=TeamForm.initial_from(team)),
        "member_form": MemberAddForm(),
        "namespace_form": NamespaceCreateForm(),
    }
    return context | overrides


def _team_page(request: HttpRequest, team: Team, status: int = 200, **extra: Any) -> HttpResponse:
    context = _team_context(request, team, **extra)
    return render(request, "teams/team_detail.html", context, status=status)


def _team_for_owner(request: HttpRequest, slug: str) -> Team:
    team = found(selectors.team_get, user=request.user, slug=slug)
    require_or_403(
        permissions.can_manage_team(request.user, team), "Only the team's owners or staff do this."
    )
    return team


def _members_updated(request: HttpRequest, team: Team, notice: str) -> HttpResponse:
    if request.htmx:
        context = _team_context(request, team, members_notice=notice)
        return render(request, "teams/_members.html", context)
    messages.success(request, notice)
    return redirect(reverse("teams:team", args=[team.slug]) + "#members")


def _members_refused(
    request: HttpRequest, team: Team, form: forms.BaseForm, **extra: Any
) -> HttpResponse:
    """htmx swaps only 2xx answers, so the partial carries its errors with a 200."""
    if request.htmx:
        return render(request, "teams/_members.html", _team_context(request, team, **extra))
    return _team_page(request, team, status=error_status(form), **extra)


@login_required
def team_detail(request: HttpRequest, team: str) -> HttpResponse:
    return _team_page(request, found(selectors.team_get, user=request.user, slug=team))


@login_required
@require_POST
def team_update(request: HttpRequest, team: str) -> HttpResponse:
    target = _team_for_owner(request, team)
    form = TeamForm(request.POST)
    submit(form, lambda data: services.team_update(actor=request.user, team=target, **data))
    if form.errors:
        unchanged = found(selectors.team_get, user=request.user, slug=team)
        return _team_page(request, unchanged, status=error_status(form), team_form=form)
    messages.success(request, "Team details saved.")
    return redirect("teams:team", target.slug)


@login_required
@require_POST
def member_add(request: HttpRequest, team: str) -> HttpResponse:
    target = _team_for_owner(request, team)
    form = MemberAddForm(request.POST)
    members = selectors.team_members(team=target)
    if form.is_valid() and members.filter(user=form.cleaned_data["username"]).exists():
        form.add_error("username", "Already a member: change their role in the table.")
    submit(
        form,
        lambda data: services.membership_set(
            actor=request.user, team=target, user=data["username"], role=data["role"]
        ),
    )
    if form.errors:
        return _members_refused(request, target, form, member_form=form)
    notice = f"Added {form.cleaned_data['username']} as {form.cleaned_data['role']}."
    return _members_updated(request, target, notice)


@login_required
@require_POST
def member_role(request: HttpRequest, team: str, username: str) -> HttpResponse:
    target = _team_for_owner(request, team)
    membership = found(selectors.membership_get, team=target, username=username)
    form = MemberRoleForm(request.POST)
    submit(
        form,
        lambda data: services.membership_set(
            actor=request.user, team=target, user=membership.user, role=data["role"]
        ),
    )
    if form.errors:
        return _members_refused(request, target, form, members_error=error_text(form))
    return _members_updated(request, target, f"{username} is now {form.cleaned_data['role']}.")


@login_required
@require_POST
def member_remove(request: HttpRequest, team: str, username: str) -> HttpResponse:
    target = _team_for_owner(request, team)
    membership = found(selectors.membership_get, team=target, username=username)
    form = ActionForm(request.POST)
    submit(
        form,
        lambda _: services.membership_remove(actor=request.user, team=target, user=membership.user),
    )
    if form.errors:
        return _members_refused(request, target, form, members_error=error_text(form))
    return _members_updated(request, target, f"Removed {username} from {target.name}.")


@login_required
@require_POST
def namespace_create(request: HttpRequest, team: str) -> HttpResponse:
    target = found(selectors.team_get, user=request.user, slug=team)
    require_or_403(
        permissions.can_create_namespace(request.user, target),
        "Only the team's owners or staff create its namespaces.",
    )
    form = NamespaceCreateForm(request.POST)
    namespace = submit(
        form, lambda data: services.namespace_create(actor=request.user, team=target, **data)
    )
    if form.errors:
        return _team_page(request, target, status=error_status(form), namespace_form=form)
    messages.success(request, f"Created namespace {namespace.slug}.")
    return redirect("approvals:namespace", namespace.slug)


# --- Personal tokens ------------------------------------------------------------------------


def token_or_404(candidates: QuerySet[ApiToken], prefix: str) -> ApiToken:
    token = candidates.filter(prefix=prefix).first()
    if token is None:
        raise Http404("No such token.")
    return token


# A new token's secret crosses the redirect after its POST in the session (stored server side)
# and is removed the first time a page shows it: a reload shows it no more and creates nothing.
NEW_SECRET_SESSION_KEY = "teams:new-token-secret"


def secret_keep(request: HttpRequest, scope: str, token: ApiToken, secret: str) -> None:
    """Hold `secret` for the next page of `scope` (`personal` or `namespace:<slug>`)."""
    request.session[NEW_SECRET_SESSION_KEY] = {
        "scope": scope,
        "prefix": token.prefix,
        "secret": secret,
    }


def secret_pop(request: HttpRequest, scope: str, candidates: QuerySet[ApiToken]) -> dict[str, Any]:
    """The template context that shows a held secret once (empty if none is held for `scope`)."""
    held = request.session.get(NEW_SECRET_SESSION_KEY)
    if not isinstance(held, dict) or held.get("scope") != scope:
        return {}
    del request.session[NEW_SECRET_SESSION_KEY]
    token = candidates.filter(prefix=held.get("prefix")).first()
    if token is None:
        return {}
    return {"created_token": token, "secret": held.get("secret", "")}


def _tokens_page(
    request: HttpRequest, form: PersonalTokenForm, status: int = 200, **extra: Any
) -> HttpResponse:
    context = {"form": form, "tokens": selectors.tokens_of(user=request.user), **extra}
    return render(request, "teams/tokens.html", context, status=status)


def _token_create(request: HttpRequest) -> HttpResponse:
    form = PersonalTokenForm(request.POST, user=request.user)
    created = submit(form, lambda data: tokens.personal_token_create(actor=request.user, **data))
    if form.errors:
        return _tokens_page(request, form, status=error_status(form))
    token, secret = created
    secret_keep(request, "personal", token, secret)
    return redirect(reverse("teams:tokens") + "#new-token")


@login_required
@never_cache
def token_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _token_create(request)
    shown = secret_pop(request, "personal", selectors.tokens_of(user=request.user))
    return _tokens_page(request, PersonalTokenForm(user=request.user), **shown)


@login_required
@require_POST
def token_revoke(request: HttpRequest, prefix: str) -> HttpResponse:
    token = token_or_404(selectors.tokens_of(user=request.user), prefix)
    form = ActionForm(request.POST)
    submit(form, lambda _: tokens.token_revoke(actor=request.user, token=token))
    report(request, form, f"Revoked the token {token.name} ({token.prefix}).")
    return redirect("teams:tokens")


# --- People (staff) -------------------------------------------------------------------------

PEOPLE_PER_PAGE = 100


@login_required
def people(request: HttpRequest) -> HttpResponse:
    require_or_403(permissions.is_staff(request.user), "Only staff manage people's access.")
    query = request.GET.get("q", "").replace("\x00", "").strip()[:150]
    page = Paginator(selectors.people(query=query), PEOPLE_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "query": query,
        "lockouts": selectors.current_lockouts()[:50],
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    return render(request, "teams/people.html", context)


@login_required
@require_POST
def lockout_lift(request: HttpRequest) -> HttpResponse:
    require_or_403(permissions.is_staff(request.user), "Only staff lift sign-in lockouts.")
    username = request.POST.get("username", "")[:150]
    address = request.POST.get("ip_address", "")[:64]
    try:
        services.lockout_lift(actor=request.user, username=username, ip_address=address)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"{username} may sign in from {address} again.")
    return redirect("teams:people")


@login_required
@require_POST
def person_update(request: HttpRequest, username: str) -> HttpResponse:
    require_or_403(permissions.is_staff(request.user), "Only staff manage people's access.")
    person = selectors.user_by_username(username=username, active_only=False)
    if person is None:
        raise Http404(f"No user {username}.")
    form = AccessForm(request.POST)
    submit(
        form,
        lambda _: services.user_update(actor=request.user, user=person, **form.changes()),
    )
    report(request, form, f"{username}: {form.data.get('change', '').replace('_', ' ')} done.")
    return redirect(f"{reverse('teams:people')}?{urlencode({'q': username})}")
