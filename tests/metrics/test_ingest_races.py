"""Concurrent ingest on real PostgreSQL connections (one per thread): overlapping batches count
each key once, and events committed while the rollup runs are in a later run."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from prompts.metrics import rollups, selectors
from prompts.metrics.models import CallEvent, DirtyHour, EventKey, HourlyRollup
from teams.tokens import service_token_create
from tests.api.conftest import bearer
from tests.metrics.conftest import event, post

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 6


def run_threads(targets) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def wrap(target):
        try:
            barrier.wait(timeout=10)
            target()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrap, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.fixture
def secret(world):
    return service_token_create(actor=world.admin, namespaces=[world.support], name="races")[1]


def test_overlapping_concurrent_batches_count_each_key_once(world, secret):
    accepted: list[int] = []
    duplicates: list[int] = []

    def poster(index: int):
        def run():
            client = bearer(secret)
            keys = range(index * 150, index * 150 + 600)  # each overlaps the next three
            for start in range(0, 600, 200):
                batch = [event(idempotency_key=f"k{k}") for k in keys[start : start + 200]]
                body = post(client, batch).json()
                accepted.append(body["accepted"])
                duplicates.append(body["duplicates"])

        return run

    errors = run_threads([poster(i) for i in range(THREADS)])

    distinct = len({k for i in range(THREADS) for k in range(i * 150, i * 150 + 600)})
    assert errors == []
    assert sum(accepted) == distinct
    assert sum(accepted) + sum(duplicates) == THREADS * 600
    assert CallEvent.objects.count() == distinct == EventKey.objects.count()
    assert CallEvent.objects.values("idempotency_key").distinct().count() == distinct


def test_events_committed_during_a_rollup_are_rolled_up_later(world, secret):
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    stop = threading.Event()
    runs: list[int] = []

    def poster():
        client = bearer(secret)
        for n in range(15):
            at = (hour + dt.timedelta(minutes=n * 3)).isoformat()
            post(client, [event(occurred_at=at) for _ in range(100)])
        stop.set()

    def roller():
        while not stop.is_set():
            runs.append(rollups.rollup_dirty_hours())

    errors = run_threads([poster, poster, roller])
    rollups.rollup_dirty_hours()

    assert errors == []
    assert len(runs) > 1
    assert not DirtyHour.objects.exists()
    total = HourlyRollup.objects.aggregate(n=Sum("count"))["n"]
    assert total == CallEvent.objects.count() == 3000


def test_a_group_committed_between_the_sums_and_the_buckets_never_breaks_a_read(world):
    """The exact path reads sums, then histogram buckets: an event of a new group (a model
    never seen) committed in between, by another connection, is left for the next read."""
    post(world.service, [event(model="old-model")])
    injected = []

    def commit_a_new_group(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not injected and "SUM" in sql.upper() and "metrics_callevent" in sql:
            injected.append(True)
            thread = threading.Thread(
                target=lambda: (post(world.service, [event(model="new-model")]), connection.close())
            )
            thread.start()
            thread.join(timeout=30)
        return result

    start = timezone.now() - dt.timedelta(hours=1)
    with connection.execute_wrapper(commit_a_new_group):
        answer = selectors.metrics_for(
            prompt=world.prompt, start=start, end=timezone.now(), group=("model",), exact=False
        )

    assert injected
    assert [g.key["model"] for g in answer.groups] == ["old-model"]
    later = selectors.metrics_for(
        prompt=world.prompt, start=start, end=timezone.now(), group=("model",), exact=False
    )
    assert [g.key["model"] for g in later.groups] == ["new-model", "old-model"]
