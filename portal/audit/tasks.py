from celery import shared_task
from django.conf import settings

from portal.audit import services


@shared_task(ignore_result=True)
def verify_chain() -> int | None:
    """One bounded batch of the chain's continuous re-verification (Celery beat, every
    AUDIT_VERIFY_EVERY_SECONDS); returns the position reached, None when another run is busy."""
    state = services.chain_verify_batch(batch_size=settings.AUDIT_VERIFY_BATCH_SIZE)
    return None if state is None else state.position
