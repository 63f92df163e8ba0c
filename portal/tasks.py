from celery import shared_task

from portal import outbox


@shared_task(ignore_result=True)
def drain_outbox() -> int:
    """Deliver what the processes that made changes could not (Redis away, process gone)."""
    delivered, total = 0, outbox.DRAIN_BATCH
    while total == outbox.DRAIN_BATCH:
        total = outbox.drain()
        delivered += total
    return delivered
