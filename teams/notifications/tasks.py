"""Celery tasks of the notifications app: e-mail and webhook delivery. Each calls services and
is safe to run twice (only pending deliveries are sent)."""

from typing import Any

from celery import shared_task
from django.conf import settings

from teams.notifications import services, webhooks
from teams.notifications.models import Delivery


@shared_task(ignore_result=True)
def send_emails(delivery_ids: list[int]) -> int:
    """Send these pending e-mail deliveries; returns how many went out now."""
    sent = 0
    for delivery in Delivery.objects.filter(
        pk__in=delivery_ids, channel=Delivery.Channel.EMAIL, status=Delivery.Status.PENDING
    ).order_by("pk"):
        sent += services.email_send(delivery=delivery)
    return sent


def backoff(retries: int) -> int:
    """Seconds before the next try: 2, 4, 8, 16, 32 minutes (with the default base), so six
    tries span about an hour."""
    return settings.WEBHOOK_RETRY_BASE_SECONDS * 2**retries


@shared_task(bind=True, ignore_result=True, max_retries=None)
def deliver_webhook(self, delivery_id: int) -> Any:
    """One try now; a retryable failure schedules the next one, up to WEBHOOK_TRIES in all.
    The Retry is returned, not raised (`throw=False`): eager Celery (the embedded mode, the
    tests) then runs the next try itself, where a raised one would propagate."""
    tries = settings.WEBHOOK_TRIES
    outcome = webhooks.webhook_attempt(
        delivery_id=delivery_id, last_try=self.request.retries + 1 >= tries
    )
    if outcome == webhooks.RETRY:
        return self.retry(
            countdown=backoff(self.request.retries), max_retries=tries - 1, throw=False
        )
    return outcome
