"""Celery beat tasks of the prompts app: stale-prompt detection. Each is safe to run twice;
their schedules are rows of django-celery-beat, registered by migration 0006."""

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from prompts import stale
from prompts.resolve import counts

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def flush_resolve_counts() -> int:
    """Today's and yesterday's counts of deprecated-prompt resolves, from Redis into
    ResolveCount (absolute day totals: a second run writes the same rows)."""
    today = counts.today()
    return counts.flush(days=[today - dt.timedelta(days=1), today])


@shared_task(ignore_result=True)
def retire_past_sunset() -> int:
    """Retire deprecated prompts past their sunset where the namespace opted in."""
    return len(stale.retire_due(now=timezone.now()))


@shared_task(ignore_result=True)
def stale_digest() -> int:
    """The daily scan: flush the counts, retire what is due, then one digest per team of
    everything found (not sent again when nothing is new). Returns the number of teams told."""
    flush_resolve_counts()
    now = timezone.now()
    stale.retire_due(now=now)
    told = stale.digest_send(findings=stale.scan(now=now), now=now)
    logger.info("stale digest: %d teams told", len(told))
    return len(told)
