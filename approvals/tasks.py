"""Celery tasks of the approvals app. Each calls services and is safe to run twice. Services
queue them through `portal.outbox`, by name."""

import logging

from celery import shared_task

from approvals import services
from approvals.selectors import promotion_event_recipients

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def notify_promotion_event(request_id: int, event: str) -> None:
    """Tell the people a promotion event concerns: reviewers who may decide a new request, the
    requester when it is decided. Today this resolves the recipients and logs them; delivery
    (inbox, email, webhooks) arrives with the notifications capability."""
    recipients = promotion_event_recipients(request_id=request_id, event=event)
    logger.info(
        "promotion request %s %s: notify %s", request_id, event, ", ".join(recipients) or "nobody"
    )


@shared_task(ignore_result=True)
def expire_stale_requests() -> int:
    return services.expire_stale_requests()


@shared_task(ignore_result=True)
def reevaluate_pending(
    namespace_id: int | None = None,
    environment_id: int | None = None,
    user_ids: list[int] | None = None,
) -> int:
    """After rights were gained (a grant, a rejoined team, a reactivation): apply the pending
    requests whose approvals are complete now."""
    return services.reevaluate_pending(
        namespace_id=namespace_id, environment_id=environment_id, user_ids=user_ids
    )
