"""Resolves of deprecated prompts are counted in Redis on the resolve path (never the
database: the warm path still makes no query) and flushed into ResolveCount as day totals."""

import datetime as dt
import time

import pytest
import redis
import time_machine
from django.utils import timezone

from portal.cache import breaker
from prompts.lifecycle import prompt_deprecate
from prompts.models import ResolveCount
from prompts.resolve import counts
from teams.tokens import service_token_create
from tests.api.conftest import bearer, personal_client, world  # noqa: F401

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def flush_resolve_counts() -> int:
    """What the beat task flushes: yesterday's and today's counts."""
    today = counts.today()
    return counts.flush(days=[today - dt.timedelta(days=1), today])


@pytest.fixture
def deprecated(world, django_capture_on_commit_callbacks):  # noqa: F811
    with django_capture_on_commit_callbacks(execute=True):
        prompt_deprecate(
            actor=world.admin,
            prompt=world.prompt,
            reason="use greet-v2",
            sunset_at=timezone.now() + dt.timedelta(days=30),
        )
    return world


def _server(settings) -> redis.Redis:
    return redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])


def test_a_warm_resolve_of_a_deprecated_prompt_is_counted_without_a_query(
    deprecated, django_assert_num_queries
):
    assert deprecated.get().status_code == 200  # cold: fills the cache

    with django_assert_num_queries(0):
        warm = deprecated.get()

    assert warm.status_code == 200
    assert "Deprecation" in warm.headers
    assert counts.day_totals(counts.today()) == {("production", "support/greet", "test service"): 2}


def test_the_count_costs_the_warm_path_one_pipelined_round_trip(deprecated, settings):
    server = _server(settings)
    deprecated.get()
    deprecated.get()
    server.config_resetstat()

    assert deprecated.get().status_code == 200

    calls = {
        name.removeprefix("cmdstat_"): stats["calls"]
        for name, stats in server.info("commandstats").items()
    }
    calls.pop("info", None)
    calls.pop("config|resetstat", None)
    assert calls == {"mget": 1, "hincrby": 1, "expire": 1}


def test_active_prompts_are_not_counted(world):  # noqa: F811
    assert world.get().status_code == world.get().status_code == 200

    assert counts.day_totals(counts.today()) == {}


def test_callers_are_told_apart_and_people_count_under_no_name(deprecated, staff):
    _, secret = service_token_create(
        actor=deprecated.admin, namespaces=[deprecated.namespace], name="billing-worker"
    )
    deprecated.get()
    bearer(secret).get("/api/v1/resolve/support/greet/", {"environment": "staging"})
    deprecated.get(client=bearer(secret))
    deprecated.get(client=personal_client(staff))

    assert counts.day_totals(counts.today()) == {
        ("production", "support/greet", "test service"): 1,
        ("production", "support/greet", "billing-worker"): 1,
        ("staging", "support/greet", "billing-worker"): 1,
        ("production", "support/greet", ""): 1,
    }


def test_a_redis_that_stalls_writes_loses_the_count_never_the_resolve(deprecated, settings):
    deprecated.get()  # warm
    server = _server(settings)
    server.client_pause(3000, all=False)  # writes wait; reads (the MGET) answer
    try:
        started = time.monotonic()
        response = deprecated.get()
        took = time.monotonic() - started
    finally:
        server.execute_command("CLIENT", "UNPAUSE")
        breaker.close()

    assert response.status_code == 200
    assert took < 1
    assert counts.day_totals(counts.today()) == {("production", "support/greet", "test service"): 1}


def test_flushing_writes_day_totals_and_twice_is_once(deprecated, environments):
    with time_machine.travel(NOON, tick=False):
        deprecated.get()
        deprecated.get()
        deprecated.service.get("/api/v1/resolve/support/greet/", {"environment": "staging"})
        assert flush_resolve_counts() == 2
        assert flush_resolve_counts() == 2
        rows = set(ResolveCount.objects.values_list("environment__slug", "day", "count"))
        assert rows == {("production", NOON.date(), 2), ("staging", NOON.date(), 1)}

        deprecated.get()
        flush_resolve_counts()
    with time_machine.travel(NOON + dt.timedelta(days=1), tick=False):
        deprecated.get()
        flush_resolve_counts()  # yesterday's and today's
        flush_resolve_counts()

    rows = set(ResolveCount.objects.values_list("environment__slug", "day", "token_name", "count"))
    assert rows == {
        ("production", NOON.date(), "test service", 3),
        ("staging", NOON.date(), "test service", 1),
        ("production", NOON.date() + dt.timedelta(days=1), "test service", 1),
    }


def test_counts_of_a_prompt_or_environment_that_no_longer_exists_are_skipped(deprecated):
    counts.note(namespace="support", name="gone", environment="production", caller="x")
    counts.note(namespace="support", name="greet", environment="nowhere", caller="x")
    deprecated.get()

    assert flush_resolve_counts() == 1
    assert ResolveCount.objects.get().count == 1
