import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def notify_promotion_event(request_id: int, event: str) -> None:
    """Tell the people a promotion event concerns: reviewers who may decide a new request, the
    requester when it is decided. Today this resolves the recipients and logs them; delivery
    (inbox, email, webhooks) arrives with the notifications capability."""
    from approvals.selectors import promotion_event_recipients

    recipients = promotion_event_recipients(request_id=request_id, event=event)
    logger.info(
        "promotion request %s %s: notify %s", request_id, event, ", ".join(recipients) or "nobody"
    )


@shared_task(ignore_result=True)
def expire_stale_requests() -> int:
    from approvals.services import expire_stale_requests as expire

    return expire()
