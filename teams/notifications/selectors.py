"""Reads of the notifications app: a person's inbox, their preferences, a team's webhooks and
the record of what was sent to a team ("were we told?")."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from portal.errors import NotFound
from teams import permissions
from teams.models import Team
from teams.notifications.events import EVENT_NAMES
from teams.notifications.models import Delivery, Notification, Preference, Webhook, WebhookAttempt
from teams.permissions import Principal, require


def notifications_of(*, user: AbstractBaseUser, unread: bool | None = None) -> QuerySet:
    """The person's own inbox, newest first."""
    entries = Notification.objects.filter(user=user).select_related("team")
    if unread is not None:
        entries = entries.filter(read_at__isnull=unread)
    return entries.order_by("-created_at", "-pk")


def notification_get(*, user: AbstractBaseUser, pk: int) -> Notification:
    """One of the person's own entries; anyone else's is reported as missing."""
    entry = Notification.objects.filter(user=user, pk=pk).first()
    if entry is None:
        raise NotFound(f"No notification {pk}.")
    return entry


def unread_count(*, user: AbstractBaseUser) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_sent(*, event: str, request_id: int) -> bool:
    """Whether an inbox entry of this event about this promotion request exists."""
    return Notification.objects.filter(event=event, data__request=request_id).exists()


def preferences_of(*, user: AbstractBaseUser) -> dict[str, bool]:
    """E-mail on or off per event type (on unless turned off)."""
    chosen = dict(Preference.objects.filter(user=user).values_list("event", "email"))
    return {event: chosen.get(event, True) for event in sorted(EVENT_NAMES)}


def _require_owner(user: Principal, team: Team) -> None:
    require(
        permissions.can_manage_team(user, team),
        f"Only owners of {team.slug} and staff see its webhooks and what was sent to it.",
    )


def team_deliveries(*, user: Principal, team: Team, channel: str | None = None) -> QuerySet:
    """Everything sent about the team, newest first: inbox entries and e-mails to its people,
    calls of its webhooks. For its owners and staff."""
    _require_owner(user, team)
    sent = Delivery.objects.filter(team=team).select_related("user", "webhook")
    if channel:
        sent = sent.filter(channel=channel)
    return sent.order_by("-created_at", "-pk")


def team_webhooks(*, user: Principal, team: Team) -> QuerySet:
    _require_owner(user, team)
    return Webhook.objects.filter(team=team).order_by("pk")


def webhook_get(*, user: Principal, team: Team, pk: int) -> Webhook:
    """A webhook of this team (another team's is reported as missing)."""
    webhook = team_webhooks(user=user, team=team).filter(pk=pk).select_related("team").first()
    if webhook is None:
        raise NotFound(f"No webhook {pk} in {team.slug}.")
    return webhook


def webhook_attempts(*, webhook: Webhook) -> QuerySet:
    """The delivery log: each HTTP try, newest first."""
    return WebhookAttempt.objects.filter(webhook=webhook).select_related("delivery")
