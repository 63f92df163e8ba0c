"""The hourly rollup and retention, run by beat (prompts.metrics.tasks).

The rollup takes the dirty marks that are committed (each ingest transaction appends its own,
with its events), recomputes each marked prompt-hour entirely from the raw events, replaces
that hour's rollup rows and deletes the marks it took, all in one transaction. So a run is
idempotent, two runs never interleave (a transaction-level advisory lock on PostgreSQL; the
second returns at once), and events committed during a run keep a mark for the next one.
"""

import datetime as dt
from collections import defaultdict
from functools import reduce
from operator import or_

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from prompts.metrics import partitions
from prompts.metrics.aggregates import DIMENSIONS, raw_hours
from prompts.metrics.models import CallEvent, EventKey, HourlyRollup

HOUR = dt.timedelta(hours=1)
ROLLUP_LOCK = 0x6D657472  # "metr": pg_try_advisory_xact_lock's key for the rollup
MARKS_PER_RUN = 500_000


def _locked() -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: writers are serialized anyway
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ROLLUP_LOCK])
        return cursor.fetchone()[0]


def hours_recompute(*, prompt_id: int, hours: set[dt.datetime]) -> int:
    """Replace the rollup rows of these hours of one prompt with sums of its raw events."""
    HourlyRollup.objects.filter(prompt_id=prompt_id, hour__in=hours).delete()
    ranges = reduce(or_, (Q(occurred_at__gte=h, occurred_at__lt=h + HOUR) for h in hours))
    found = raw_hours(CallEvent.objects.filter(ranges, prompt_id=prompt_id))
    HourlyRollup.objects.bulk_create(
        HourlyRollup(
            prompt_id=prompt_id,
            **dict(zip(DIMENSIONS, key[:-1], strict=True)),
            hour=key[-1],
            **{name: getattr(acc, name) for name in acc.SUMS},
            latency_histogram={str(index): n for index, n in acc.latency_histogram.items()},
        )
        for key, acc in found.items()
    )
    return len(found)


# The marks are taken by deleting them first: the rows a run removes are exactly the ones it
# recomputes (their events were committed with them, so the recompute that follows sees them);
# a failure rolls the deletion back. Marks committed meanwhile stay for the next run.
TAKE_POSTGRESQL = (
    "WITH taken AS (DELETE FROM metrics_dirtyhour WHERE id IN (SELECT id FROM metrics_dirtyhour"
    " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING prompt_id, hour)"
    " SELECT DISTINCT prompt_id, hour FROM taken"
)
TAKE_OTHER = (
    "DELETE FROM metrics_dirtyhour WHERE id IN (SELECT id FROM metrics_dirtyhour"
    " ORDER BY id LIMIT %s) RETURNING prompt_id, hour"
)


def _take_marks(limit: int) -> dict[int, set[dt.datetime]]:
    postgresql = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(TAKE_POSTGRESQL if postgresql else TAKE_OTHER, [limit])
        rows = cursor.fetchall()
    by_prompt: dict[int, set[dt.datetime]] = defaultdict(set)
    for prompt_id, hour in rows:
        if isinstance(hour, str):  # SQLite hands back the stored text (UTC)
            hour = dt.datetime.fromisoformat(hour)
        by_prompt[prompt_id].add(hour if hour.tzinfo else hour.replace(tzinfo=dt.UTC))
    return by_prompt


def rollup_dirty_hours(*, limit: int = MARKS_PER_RUN) -> int:
    """Roll up the marked prompt-hours; returns how many prompt-hours were recomputed."""
    with transaction.atomic():
        if not _locked():
            return 0
        by_prompt = _take_marks(limit)
        for prompt_id, hours in by_prompt.items():
            hours_recompute(prompt_id=prompt_id, hours=hours)
    return sum(len(hours) for hours in by_prompt.values())


def retention_apply(*, now: dt.datetime | None = None) -> dict[str, list[str] | int]:
    """Partitions ahead (this month and MONTHS_AHEAD more) and nothing older than
    METRICS_RETENTION_DAYS: whole partitions on PostgreSQL (a month is dropped once all of it
    is past the window), rows elsewhere; idempotency keys and rollups alike."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.METRICS_RETENTION_DAYS)
    created: list[str] = []
    dropped: list[str] = []
    if partitions.is_partitioned():
        end = partitions.month_start(now)
        for _ in range(partitions.MONTHS_AHEAD):
            end = partitions.next_month(end)
        created = partitions.partitions_create(start=now, end=end)
        dropped = partitions.partitions_drop(before=cutoff)
    else:
        CallEvent.objects.filter(occurred_at__lt=cutoff).delete()
    keys, _ = EventKey.objects.filter(occurred_at__lt=cutoff).delete()
    rollups, _ = HourlyRollup.objects.filter(hour__lt=cutoff - HOUR).delete()
    return {"created": created, "dropped": dropped, "keys": keys, "rollups": rollups}
