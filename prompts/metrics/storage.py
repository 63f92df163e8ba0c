"""The three statements of an ingest transaction, fast on PostgreSQL (arrays and COPY) and
plain on SQLite (the embedded mode). Rows are the dicts of prompts.metrics.services."""

import datetime as dt
import json
from contextlib import suppress

from django.db import DatabaseError, connection

from prompts.metrics import partitions
from prompts.metrics.models import CallEvent, DirtyHour

COLUMNS = (
    "occurred_at",
    "received_at",
    "prompt_id",
    "version_id",
    "environment_id",
    "experiment_id",
    "arm",
    "model",
    "subject",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "quality_score",
    "feedback",
    "error",
    "idempotency_key",
    "metadata",
)
OWN = {"received_at", "metadata"}
# Sorted in the statement, so two batches sharing keys take their locks in the same order
# (no deadlock); the second waits for the first to commit, then skips the keys it took.
CLAIM_POSTGRESQL = (
    "INSERT INTO metrics_eventkey (prompt_id, idempotency_key, occurred_at)"
    " SELECT p, k, o FROM unnest(%s::bigint[], %s::varchar[], %s::timestamptz[]) AS t(p, k, o)"
    " ORDER BY p, k"
    " ON CONFLICT (prompt_id, idempotency_key) DO NOTHING"
    " RETURNING prompt_id, idempotency_key"
)
CLAIM_OTHER = (
    "INSERT INTO metrics_eventkey (prompt_id, idempotency_key, occurred_at) VALUES {values}"
    " ON CONFLICT (prompt_id, idempotency_key) DO NOTHING"
    " RETURNING prompt_id, idempotency_key"
)


# Months known to have a partition, in this process (partitions are only dropped once past the
# retention window, which no accepted event is).
_known_months: set[dt.datetime] = set()


def partitions_ensure(*, rows: list[dict]) -> None:
    """Beat creates partitions months ahead; should it have stopped for that long, the ingest
    creates its months' itself rather than fail (before its transaction, so the DDL's lock on
    the table is not held while the batch is written)."""
    if not partitions.is_partitioned():
        return
    months = {partitions.month_start(row["occurred_at"]) for row in rows}
    if months <= _known_months:
        return
    _known_months.update(partitions.partitions_existing())
    missing = months - _known_months
    if missing:
        with suppress(DatabaseError):  # a concurrent ingest created it first
            partitions.partitions_create(start=min(missing), end=max(missing))
        _known_months.update(partitions.partitions_existing())


def hour_of(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def keys_claim(*, rows: list[dict]) -> set[tuple[int, str]]:
    """Record the rows' idempotency keys; returns those that were new."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                CLAIM_POSTGRESQL,
                [
                    [r["prompt_id"] for r in rows],
                    [r["idempotency_key"] for r in rows],
                    [r["occurred_at"] for r in rows],
                ],
            )
        else:
            ordered = sorted(rows, key=lambda r: (r["prompt_id"], r["idempotency_key"]))
            adapt = connection.ops.adapt_datetimefield_value
            params = [
                value
                for r in ordered
                for value in (r["prompt_id"], r["idempotency_key"], adapt(r["occurred_at"]))
            ]
            values = ", ".join(["(%s, %s, %s)"] * len(ordered))
            cursor.execute(CLAIM_OTHER.format(values=values), params)
        return {(prompt_id, key) for prompt_id, key in cursor.fetchall()}


def events_insert(*, rows: list[dict], received_at: dt.datetime) -> None:
    if not rows:
        return
    if connection.vendor != "postgresql":
        CallEvent.objects.bulk_create(
            CallEvent(
                **{column: row[column] for column in COLUMNS if column not in OWN},
                received_at=received_at,
                # JSONField encodes: hand it the value, not the text the schema made.
                metadata=None if row["metadata"] is None else json.loads(row["metadata"]),
            )
            for row in rows
        )
        return
    names = ", ".join(COLUMNS)
    with (
        connection.cursor() as wrapper,
        wrapper.cursor.copy(f"COPY metrics_callevent ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(
                [received_at if column == "received_at" else row[column] for column in COLUMNS]
            )


def hours_mark_dirty(*, rows: list[dict], marked_at: dt.datetime) -> None:
    """One mark per prompt-hour of this batch, committed with its events: a rollup run that
    sees the mark sees the events (marks are appended, never merged, so none is taken by a run
    that started before these events were committed)."""
    hours = sorted({(row["prompt_id"], hour_of(row["occurred_at"])) for row in rows})
    DirtyHour.objects.bulk_create(
        DirtyHour(prompt_id=prompt_id, hour=hour, marked_at=marked_at) for prompt_id, hour in hours
    )
