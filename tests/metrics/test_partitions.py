"""The event table is partitioned by month on PostgreSQL; the daily task creates partitions
ahead and drops the ones past retention; keys and rollups are pruned with it."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from prompts.metrics import partitions, rollups, storage, tasks
from prompts.metrics.models import CallEvent, EventKey
from tests.metrics.conftest import event, post

pytestmark = pytest.mark.django_db


def partition_names() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT child.relname FROM pg_inherits"
            " JOIN pg_class child ON child.oid = pg_inherits.inhrelid"
            " WHERE pg_inherits.inhparent = 'metrics_callevent'::regclass ORDER BY 1"
        )
        return [row[0] for row in cursor.fetchall()]


def test_the_event_table_is_partitioned_by_range_of_occurred_at():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT partstrat, a.attname FROM pg_partitioned_table p"
            " JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]"
            " WHERE p.partrelid = 'metrics_callevent'::regclass"
        )
        assert cursor.fetchall() == [("r", "occurred_at")]


def test_the_migration_covers_the_retention_window_and_two_months_ahead(settings):
    now = timezone.now()
    months = partitions.partitions_existing()
    oldest = now - dt.timedelta(days=settings.METRICS_RETENTION_DAYS)

    assert months[0] <= partitions.month_start(oldest)
    ahead = partitions.next_month(partitions.next_month(partitions.month_start(now)))
    assert months[-1] >= ahead


def test_events_land_in_their_months_partition(world):
    post(world.service, [event()])

    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM metrics_callevent")
        assert cursor.fetchall() == [
            (partitions.partition_name(partitions.month_start(timezone.now())),)
        ]


def test_the_task_creates_ahead_and_drops_past_retention(world, settings):
    post(world.service, [event()])
    now = timezone.now()
    later = now + dt.timedelta(days=120)
    settings.METRICS_RETENTION_DAYS = 60

    result = rollups.retention_apply(now=later)

    names = partition_names()
    assert partitions.partition_name(partitions.month_start(later)) in names
    for month in range(1, partitions.MONTHS_AHEAD + 1):
        ahead = partitions.month_start(later)
        for _ in range(month):
            ahead = partitions.next_month(ahead)
        assert partitions.partition_name(ahead) in names
    cutoff = later - dt.timedelta(days=60)
    assert all(partitions.next_month(m) > cutoff for m in partitions.partitions_existing())
    assert partitions.partition_name(partitions.month_start(now)) in result["dropped"]
    assert CallEvent.objects.count() == 0
    assert EventKey.objects.count() == 0
    assert rollups.retention_apply(now=later)["created"] == []  # safe to run twice


def test_the_task_runs_through_celery():
    assert set(tasks.maintain_partitions.delay().get()) == {"created", "dropped", "keys", "rollups"}


def test_beat_runs_the_metrics_tasks():
    rows = dict(
        PeriodicTask.objects.filter(name__startswith="metrics-").values_list("name", "task")
    )

    assert rows == {
        "metrics-rollup": "prompts.metrics.tasks.rollup_dirty_hours",
        "metrics-guardrails": "prompts.metrics.tasks.evaluate_guardrails",
        "metrics-partitions-retention": "prompts.metrics.tasks.maintain_partitions",
    }
    every = PeriodicTask.objects.get(name="metrics-rollup").interval
    assert (every.every, every.period) == (1, "minutes")
    assert PeriodicTask.objects.get(name="metrics-guardrails").interval.every == 1


def test_the_ingest_creates_a_missing_months_partition(world):
    month = partitions.month_start(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {partitions.partition_name(month)}")
    storage._known_months.clear()

    body = post(world.service, [event()]).json()

    assert body["accepted"] == 1
    assert partitions.partition_name(month) in partition_names()
