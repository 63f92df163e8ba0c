"""Portal pages of the notifications app: the inbox and its header badge, e-mail settings, and
for team owners a team's webhooks (with their delivery log) and what was sent to the team."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from portal.errors import PermissionDenied
from portal.web import error_status, found, require_or_403, submit
from teams import permissions
from teams import selectors as team_selectors
from teams.models import Team
from teams.notifications import selectors, services, webhooks
from teams.notifications.events import LABELS
from teams.notifications.forms import PreferencesForm, WebhookForm
from teams.notifications.models import Delivery, Webhook

PAGE_SIZE = 25


def _page(request: HttpRequest, rows, size: int = PAGE_SIZE):
    return Paginator(rows, size).get_page(request.GET.get("page"))


# --- Inbox ----------------------------------------------------------------------------------


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    page = _page(request, selectors.notifications_of(user=request.user))
    context = {
        "page": page,
        "unread": selectors.unread_count(user=request.user),
        "labels": LABELS,
    }
    return render(request, "notifications/inbox.html", context)


@require_GET
def unread_count(request: HttpRequest) -> HttpResponse:
    """The badge of the navigation's Notifications link, loaded by htmx after the page. A
    signed-out visitor gets nothing to swap."""
    if not permissions.is_user(request.user):
        return HttpResponse(status=204)
    count = selectors.unread_count(user=request.user)
    return render(request, "notifications/_unread_count.html", {"count": count})


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("notifications:inbox")
    return redirect(target)


@login_required
@require_POST
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    entry = found(selectors.notification_get, user=request.user, pk=pk)
    services.notification_mark_read(user=request.user, notification=entry)
    if request.POST.get("open") and entry.url.startswith("/"):
        return redirect(entry.url)
    return _back(request)


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    marked = services.notifications_mark_all_read(user=request.user)
    messages.success(request, f"Marked {marked} notification{'s' if marked != 1 else ''} read.")
    return _back(request)


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    current = selectors.preferences_of(user=request.user)
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            services.preferences_set(user=request.user, email=form.cleaned_data)
            messages.success(request, "E-mail settings saved.")
            return redirect("notifications:settings")
    else:
        form = PreferencesForm(initial=current)
    return render(request, "notifications/settings.html", {"form": form})


# --- A team's webhooks and records ----------------------------------------------------------


def _owned_team(request: HttpRequest, slug: str) -> Team:
    team = found(team_selectors.team_get, user=request.user, slug=slug)
    require_or_403(
        permissions.can_manage_team(request.user, team), "Only the team's owners or staff do this."
    )
    return team


def _webhook(request: HttpRequest, team: Team, pk: int) -> Webhook:
    return found(selectors.webhook_get, user=request.user, team=team, pk=pk)


def _to_team(team: Team) -> HttpResponse:
    return redirect(reverse("teams:team", args=[team.slug]) + "#webhooks")


@login_required
def team_sent(request: HttpRequest, team: str) -> HttpResponse:
    """Were we told? Every inbox entry, e-mail and webhook call about the team."""
    target = _owned_team(request, team)
    channel = request.GET.get("channel", "")
    if channel not in Delivery.Channel.values:
        channel = ""
    rows = selectors.team_deliveries(user=request.user, team=target, channel=channel or None)
    context = {
        "team": target,
        "page": _page(request, rows, 50),
        "channel": channel,
        "channels": Delivery.Channel.choices,
        "labels": LABELS,
    }
    return render(request, "notifications/team_sent.html", context)


@login_required
@require_POST
def webhook_create(request: HttpRequest, team: str) -> HttpResponse:
    target = _owned_team(request, team)
    form = WebhookForm(request.POST)
    hook = submit(
        form,
        lambda data: webhooks.webhook_create(
            actor=request.user,
            team=target,
            url=data["url"],
            events=data["events"],
            secret=data["secret"] or None,
        ),
    )
    if hook is None:
        context = {"team": target, "form": form}
        return render(
            request, "notifications/webhook_form.html", context, status=error_status(form)
        )
    response = render(request, "notifications/webhook_created.html", {"team": target, "hook": hook})
    response["Cache-Control"] = "no-store"  # the secret is on it
    return response


@login_required
def webhook_detail(request: HttpRequest, team: str, pk: int) -> HttpResponse:
    target = _owned_team(request, team)
    hook = _webhook(request, target, pk)
    context = {
        "team": target,
        "hook": hook,
        "page": _page(request, selectors.webhook_attempts(webhook=hook), 50),
        "labels": LABELS,
    }
    return render(request, "notifications/webhook_detail.html", context)


@login_required
@require_POST
def webhook_test(request: HttpRequest, team: str, pk: int) -> HttpResponse:
    target = _owned_team(request, team)
    hook = _webhook(request, target, pk)
    webhooks.webhook_send_test(actor=request.user, webhook=hook)
    messages.success(request, f"Test delivery to {hook.url} queued; its outcome is in the log.")
    return redirect("notifications:webhook", target.slug, hook.pk)


@login_required
@require_POST
def webhook_active(request: HttpRequest, team: str, pk: int) -> HttpResponse:
    target = _owned_team(request, team)
    hook = _webhook(request, target, pk)
    turn_on = request.POST.get("active") == "1"
    try:
        webhooks.webhook_update(actor=request.user, webhook=hook, is_active=turn_on)
    except PermissionDenied as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Webhook to {hook.url} turned {'on' if turn_on else 'off'}.")
    return _to_team(target)


@login_required
@require_POST
def webhook_delete(request: HttpRequest, team: str, pk: int) -> HttpResponse:
    target = _owned_team(request, team)
    hook = _webhook(request, target, pk)
    webhooks.webhook_delete(actor=request.user, webhook=hook)
    messages.success(request, f"Webhook to {hook.url} deleted.")
    return _to_team(target)
