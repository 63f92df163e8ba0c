"""Team webhooks: registration by team owners and staff (audited, SSRF-checked), and delivery.

A delivery is one POST of the `Delivery.payload` JSON, signed: `X-Portal-Timestamp` is the unix
time of the attempt and `X-Portal-Signature` is `sha256=` and the hex HMAC-SHA256, under the
webhook's secret, of `f"{timestamp}.{body}"`. Each attempt is logged (`WebhookAttempt`). A 5xx,
408, 429 or a network error is retried by the Celery task with exponential backoff; a redirect
(never followed), another 4xx or a refused address fails the delivery at once. Every failed
attempt counts towards `WEBHOOK_MAX_FAILURES` consecutive failures, after which the webhook is
disabled and the team's owners are told (a success resets the count).
"""

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import urllib3
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal import outbox
from portal.audit.services import audit
from portal.errors import Invalid
from teams import permissions
from teams.models import Membership, Team
from teams.notifications import events, ssrf
from teams.notifications.models import Delivery, Webhook, WebhookAttempt
from teams.notifications.services import DELIVER_WEBHOOK, notify, plain, webhook_payload
from teams.permissions import Principal, require

SECRET_MIN_CHARS = 16
RETRYABLE_STATUS = {408, 429}
SENT, RETRY, FAILED = "sent", "retry", "failed"


def sign(*, secret: str, timestamp: int, body: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


# --- Registration ---------------------------------------------------------------------------


def _require_owner(actor: Principal, team: Team) -> None:
    require(
        permissions.can_manage_team(actor, team),
        f"Only owners of {team.slug} and staff manage its webhooks.",
    )


def _clean_url(url: str) -> str:
    try:
        return ssrf.check_url(plain(url, 500))
    except ssrf.UnsafeURL as exc:
        raise Invalid.field("url", str(exc)) from exc


def _clean_events(names: list[str]) -> list[str]:
    unknown = sorted(set(names) - events.EVENT_NAMES)
    if unknown:
        raise Invalid.field("events", f"Unknown events: {', '.join(unknown)}.")
    return sorted(set(names))


def _clean_secret(secret: str | None) -> str:
    if not secret:
        return secrets.token_urlsafe(32)
    if len(secret) < SECRET_MIN_CHARS or len(secret) > 200:
        raise Invalid.field("secret", f"A secret has {SECRET_MIN_CHARS} to 200 characters.")
    return plain(secret, 200)


def _summary(hook: Webhook) -> dict[str, Any]:
    return {
        "team": hook.team.slug,
        "url": hook.url,
        "events": hook.events,
        "active": hook.is_active,
    }


@transaction.atomic
def webhook_create(
    *,
    actor: Principal,
    team: Team,
    url: str,
    events: list[str] | None = None,
    secret: str | None = None,
) -> Webhook:
    """A new webhook of the team; its `secret` attribute is the one to show, this once."""
    _require_owner(actor, team)
    hook = Webhook.objects.create(
        team=team,
        url=_clean_url(url),
        events=_clean_events(events or []),
        secret=_clean_secret(secret),
        created_by=actor,
    )
    audit(
        actor=actor,
        action="webhook.created",
        object_type="webhook",
        object_id=hook.pk,
        after=_summary(hook),
    )
    return hook


@transaction.atomic
def webhook_update(
    *,
    actor: Principal,
    webhook: Webhook,
    url: str | None = None,
    events: list[str] | None = None,
    secret: str | None = None,
    is_active: bool | None = None,
) -> Webhook:
    """Change a webhook. Turning it back on clears its failure count."""
    _require_owner(actor, webhook.team)
    hook = Webhook.objects.select_for_update().get(pk=webhook.pk)
    before = _summary(hook)
    if url is not None:
        hook.url = _clean_url(url)
    if events is not None:
        hook.events = _clean_events(events)
    if secret is not None:
        hook.secret = _clean_secret(secret)
    if is_active is not None and is_active != hook.is_active:
        hook.is_active = is_active
        hook.consecutive_failures = 0
        hook.disabled_at = None if is_active else timezone.now()
        hook.disabled_reason = "" if is_active else f"Turned off by {actor.get_username()}."
    hook.save()
    audit(
        actor=actor,
        action="webhook.updated",
        object_type="webhook",
        object_id=hook.pk,
        before=before,
        after={**_summary(hook), "secret_changed": secret is not None},
    )
    return hook


@transaction.atomic
def webhook_delete(*, actor: Principal, webhook: Webhook) -> None:
    _require_owner(actor, webhook.team)
    audit(
        actor=actor,
        action="webhook.deleted",
        object_type="webhook",
        object_id=webhook.pk,
        before=_summary(webhook),
    )
    webhook.delete()


@transaction.atomic
def webhook_send_test(*, actor: Principal, webhook: Webhook) -> Delivery:
    """Queue a `webhook.test` delivery to this webhook alone (a disabled one too: that is how
    an owner checks a receiver before turning it back on)."""
    _require_owner(actor, webhook.team)
    delivery = Delivery(
        channel=Delivery.Channel.WEBHOOK,
        event=events.WEBHOOK_TEST,
        subject=f"Test delivery from the prompt portal to {webhook.team.slug}",
        team=webhook.team,
        webhook=webhook,
        target=webhook.url,
    )
    delivery.payload = webhook_payload(
        delivery=delivery,
        team=webhook.team,
        body=f"Sent by {actor.get_username()} with the Send test button.",
        url="",
        data={"test": True},
    )
    delivery.save()
    outbox.enqueue(DELIVER_WEBHOOK, delivery.pk)
    return delivery


# --- Delivery -------------------------------------------------------------------------------


@dataclass
class Outcome:
    status_code: int | None
    duration_ms: int
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        if self.status_code is None:
            return not self.error.startswith("Refused:")
        return self.status_code >= 500 or self.status_code in RETRYABLE_STATUS


def post(*, url: str, body: str, headers: dict[str, str]) -> Outcome:
    """POST `body` to `url` at the address the SSRF check accepted, no redirects followed."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target, address = ssrf.pinned_address(url)
    except ssrf.UnsafeURL as exc:
        return Outcome(None, took(), f"Refused: {exc}")
    timeout = urllib3.Timeout(total=settings.WEBHOOK_TIMEOUT_SECONDS)
    if target.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            assert_hostname=target.host,
            server_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body.encode(),
            headers={**headers, "Host": target.host_header},
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
        )
        # Never read the body: a receiver trickling it out a byte at a time (urllib3's
        # timeout is per read) would hold the worker; the status line is the answer.
        response.close()
    except Exception as exc:  # any transport failure is the receiver's outcome, logged
        return Outcome(None, took(), plain(f"{type(exc).__name__}: {exc}", 500))
    finally:
        pool.close()
    error = ""
    if 300 <= response.status < 400:
        error = f"Redirect to {response.headers.get('Location', '?')} not followed."
    elif response.status >= 300:
        error = f"HTTP {response.status}."
    return Outcome(response.status, took(), plain(error, 500))


def _disable(hook: Webhook) -> None:
    hook.is_active = False
    hook.disabled_at = timezone.now()
    hook.disabled_reason = f"{hook.consecutive_failures} consecutive failed deliveries."
    hook.save()  # first: the team's other webhooks are told, not this one
    notify(
        event=events.WEBHOOK_DISABLED,
        subject=f"Webhook to {hook.url} was disabled",
        body=(
            f"The webhook of {hook.team.slug} to {hook.url} failed {hook.consecutive_failures} "
            "times in a row and is now disabled. Turn it back on on the team page once the "
            "receiver works."
        ),
        team=hook.team,
        roles=[Membership.Role.OWNER],
        url=f"/teams/{hook.team.slug}/#webhooks",
        data={"webhook": hook.pk, "url": hook.url},
    )


def webhook_attempt(*, delivery_id: int, last_try: bool) -> str:
    """One try of a pending webhook delivery: SENT, RETRY (the task tries again later) or
    FAILED (given up). A delivery that is not pending any more is left alone (FAILED or SENT
    as it was), so a task run twice posts once."""
    delivery = Delivery.objects.select_related("webhook__team").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != Delivery.Status.PENDING:
        return SENT if delivery and delivery.status == Delivery.Status.SENT else FAILED
    # the budget counts the delivery's recorded tries: a task delivered again (the outbox, a
    # lost worker) starts Celery's own retry count afresh
    last_try = last_try or delivery.attempts + 1 >= settings.WEBHOOK_TRIES
    hook = delivery.webhook
    testing = delivery.event == events.WEBHOOK_TEST
    if hook is None or (not hook.is_active and not testing):
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.FAILED, last_error="The webhook was deleted or disabled."
        )
        return FAILED
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":"))
    timestamp = int(time.time())
    outcome = post(
        url=hook.url,
        body=body,
        headers={
            "Content-Type": "application/json",
            "User-Agent": "prompt-portal-webhooks/1",
            "X-Portal-Event": delivery.event,
            "X-Portal-Delivery": str(delivery.uuid),
            "X-Portal-Timestamp": str(timestamp),
            "X-Portal-Signature": sign(secret=hook.secret, timestamp=timestamp, body=body),
        },
    )
    return _record(delivery=delivery, outcome=outcome, last_try=last_try)


@transaction.atomic
def _record(*, delivery: Delivery, outcome: Outcome, last_try: bool) -> str:
    hook = (
        Webhook.objects.select_for_update(of=("self",))
        .select_related("team")
        .filter(pk=delivery.webhook_id)
        .first()
    )
    delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
    if hook is None:  # deleted while the call was under way
        delivery.status, delivery.last_error = Delivery.Status.FAILED, "The webhook was deleted."
        delivery.save()
        return FAILED
    delivery.attempts += 1
    WebhookAttempt.objects.create(
        delivery=delivery,
        webhook=hook,
        number=delivery.attempts,
        status_code=outcome.status_code,
        duration_ms=outcome.duration_ms,
        error=outcome.error,
        ok=outcome.ok,
    )
    if outcome.ok:
        delivery.status, delivery.sent_at, delivery.last_error = (
            Delivery.Status.SENT,
            timezone.now(),
            "",
        )
        hook.consecutive_failures = 0
        result = SENT
    else:
        delivery.last_error = outcome.error or f"HTTP {outcome.status_code}."
        hook.consecutive_failures += 1
        if hook.is_active and hook.consecutive_failures >= settings.WEBHOOK_MAX_FAILURES:
            _disable(hook)
        result = RETRY if outcome.retryable and not last_try and hook.is_active else FAILED
        if result == FAILED:
            delivery.status = Delivery.Status.FAILED
    delivery.save()
    hook.save()
    return result
