"""`notify`, the one call every feature makes to tell people something, and the inbox's and
e-mail's writes. Webhook management and delivery live in `teams.notifications.webhooks`.

Who is told: the `users` given, and when a `team` is given its active owners and maintainers
(the people who act on its prompts; viewers are not, a later per-team opt-in could add them),
each once, inactive accounts skipped. Each gets an inbox entry and, unless they opted out of
the event type, an e-mail; the team's active webhooks that subscribe to the event get a POST.
Every one of these is a `Delivery` row written in the caller's transaction; the e-mails and
webhook calls are sent after commit by Celery (through the outbox), so a delivery problem never
reaches the caller.
"""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from portal import outbox
from teams.models import Membership, Team
from teams.notifications.events import EVENT_NAMES, check_event
from teams.notifications.models import Delivery, Notification, Preference, Webhook

SUBJECT_CHARS = 200
BODY_CHARS = 16_000
URL_CHARS = 500
SEND_EMAILS = "teams.notifications.tasks.send_emails"
DELIVER_WEBHOOK = "teams.notifications.tasks.deliver_webhook"


def plain(text: str, limit: int) -> str:
    """Text any column and mail header takes: no NUL, no lone surrogate, at most `limit`
    characters (longer is cut with an ellipsis; a notification never fails its caller)."""
    text = str(text).replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


TEAM_ROLES = (Membership.Role.OWNER, Membership.Role.MAINTAINER)


def _recipients(
    *, team: Team | None, users: Iterable[AbstractBaseUser], roles: Iterable[str]
) -> list[AbstractBaseUser]:
    found: dict[int, AbstractBaseUser] = {}
    for user in users:
        if user is not None and user.pk is not None and user.is_active:
            found.setdefault(user.pk, user)
    if team is not None:
        members = Membership.objects.filter(
            team=team,
            role__in=list(roles),
            user__is_active=True,
        ).select_related("user")
        for membership in members:
            found.setdefault(membership.user_id, membership.user)
    return sorted(found.values(), key=lambda user: user.pk)


def _opted_out(*, users: list[AbstractBaseUser], event: str) -> set[int]:
    return set(
        Preference.objects.filter(
            user__in=[user.pk for user in users], event=event, email=False
        ).values_list("user_id", flat=True)
    )


def webhook_payload(
    *, delivery: Delivery, team: Team | None, body: str, url: str, data: dict[str, Any]
) -> dict[str, Any]:
    """The body every webhook receives (schema version 1, stable: fields are only added)."""
    return {
        "id": str(delivery.uuid),
        "schema": 1,
        "event": delivery.event,
        "created_at": timezone.now().isoformat(),
        "team": team.slug if team else None,
        "subject": delivery.subject,
        "body": body,
        "url": absolute_url(url),
        "data": data,
    }


def absolute_url(url: str) -> str:
    if url.startswith("/"):
        return settings.EMAIL_LINK_BASE_URL.rstrip("/") + url
    return url


def _webhooks_for(*, team: Team | None, event: str) -> list[Webhook]:
    if team is None:
        return []
    return [hook for hook in Webhook.objects.filter(team=team, is_active=True) if hook.wants(event)]


def notify(
    *,
    event: str,
    subject: str,
    body: str = "",
    team: Team | None = None,
    users: Iterable[AbstractBaseUser] = (),
    url: str = "",
    data: dict | None = None,
    roles: Iterable[str] = TEAM_ROLES,
) -> list[Notification]:
    """Tell the `users` and the `team` (its members in `roles`, by default owners and
    maintainers, and its webhooks) about `event`. Returns the inbox entries written. Unknown
    `event`: ValueError."""
    check_event(event)
    subject = plain(subject, SUBJECT_CHARS)
    body = plain(body, BODY_CHARS)
    url = plain(url, URL_CHARS)
    data = dict(data or {})
    with transaction.atomic():
        recipients = _recipients(team=team, users=users, roles=roles)
        notifications = Notification.objects.bulk_create(
            [
                Notification(
                    user=user,
                    team=team,
                    event=event,
                    subject=subject,
                    body=body,
                    url=url,
                    data=data,
                )
                for user in recipients
            ]
        )
        now = timezone.now()
        opted_out = _opted_out(users=recipients, event=event)
        records: list[Delivery] = []
        emails: list[Delivery] = []
        for user, notification in zip(recipients, notifications, strict=True):
            common = {"event": event, "subject": subject, "team": team, "user": user}
            records.append(
                Delivery(
                    channel=Delivery.Channel.INBOX,
                    status=Delivery.Status.SENT,
                    notification=notification,
                    target=user.get_username(),
                    attempts=1,
                    sent_at=now,
                    **common,
                )
            )
            email = Delivery(
                channel=Delivery.Channel.EMAIL,
                notification=notification,
                target=getattr(user, "email", "") or "",
                **common,
            )
            if user.pk in opted_out:
                email.status, email.last_error = Delivery.Status.SKIPPED, "Opted out."
            elif not email.target:
                email.status, email.last_error = Delivery.Status.SKIPPED, "No e-mail address."
            else:
                emails.append(email)
            records.append(email)
        hooks = []
        for hook in _webhooks_for(team=team, event=event):
            delivery = Delivery(
                channel=Delivery.Channel.WEBHOOK,
                event=event,
                subject=subject,
                team=team,
                webhook=hook,
                target=hook.url,
            )
            delivery.payload = webhook_payload(
                delivery=delivery, team=team, body=body, url=url, data=data
            )
            hooks.append(delivery)
        Delivery.objects.bulk_create(records + hooks)
        if emails:
            outbox.enqueue(SEND_EMAILS, [email.pk for email in emails])
        for delivery in hooks:
            outbox.enqueue(DELIVER_WEBHOOK, delivery.pk)
    return notifications


# --- Inbox --------------------------------------------------------------------------------


def notification_mark_read(*, user: AbstractBaseUser, notification: Notification) -> Notification:
    if notification.user_id != user.pk:
        raise ValueError("A notification is marked read by its own recipient only.")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )
    return notification


def notifications_mark_all_read(*, user: AbstractBaseUser) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


# --- Preferences --------------------------------------------------------------------------


def preferences_set(*, user: AbstractBaseUser, email: dict[str, bool]) -> dict[str, bool]:
    """Set the person's e-mail choice per event type (events not named keep theirs)."""
    with transaction.atomic():
        for event, wanted in email.items():
            check_event(event)
            Preference.objects.update_or_create(
                user=user, event=event, defaults={"email": bool(wanted)}
            )
    chosen = dict(Preference.objects.filter(user=user).values_list("event", "email"))
    return {event: chosen.get(event, True) for event in sorted(EVENT_NAMES)}


# --- E-mail -------------------------------------------------------------------------------


def email_send(*, delivery: Delivery) -> bool:
    """Send one pending e-mail delivery and record the outcome. True when sent now; a delivery
    already sent or skipped is left alone (a task run twice sends once)."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("notification")
            .filter(pk=delivery.pk, status=Delivery.Status.PENDING)
            .first()
        )
        if delivery is None:
            return False
        notification = delivery.notification
        text = notification.body if notification else ""
        if notification and notification.url:
            text = f"{text}\n\n{absolute_url(notification.url)}".strip()
        delivery.attempts += 1
        try:
            send_mail(
                subject=f"[Prompt portal] {delivery.subject}",
                message=text or delivery.subject,
                from_email=settings.DEFAULT_FROM_EMAIL,
                recipient_list=[delivery.target],
            )
        except Exception as exc:  # SMTP refusal or outage: recorded, never raised further
            delivery.status = Delivery.Status.FAILED
            delivery.last_error = plain(f"{type(exc).__name__}: {exc}", 500)
            delivery.save(update_fields=["status", "last_error", "attempts", "updated_at"])
            return False
        delivery.status = Delivery.Status.SENT
        delivery.sent_at = timezone.now()
        delivery.save(update_fields=["status", "sent_at", "attempts", "updated_at"])
        return True
