"""The near cache: tracked keys are read from process memory and Redis keeps them current.

"Another process" is played by a second cache backend on the same Redis with a near cache of
its own (different options, so a separate one): its writes reach this process's copies only
through Redis' invalidation pushes, as a promotion made by another gunicorn worker would.
"""

import logging
import os
import threading
import time

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from portal.near_cache import near_cache_close
from portal.redis_cache import ReusingRedisCache
from prompts.models import Deployment
from teams.models import ApiToken
from teams.tokens import REVOKED, token_cache_key

pytestmark = pytest.mark.skipif(
    not settings.CACHES["default"].get("NEAR_CACHE_PREFIXES"),
    reason="the near cache is switched off (NEAR_CACHE=0)",
)

TRACKED = "resolve:near-cache-test"


def wait_until(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture
def near():
    assert wait_until(lambda: cache.near.ready), "the near cache did not connect to Redis"
    return cache.near


@pytest.fixture
def other_process():
    other = ReusingRedisCache(
        settings.CACHES["default"]["LOCATION"],
        {
            "KEY_PREFIX": cache.key_prefix,
            "NEAR_CACHE_PREFIXES": settings.CACHES["default"]["NEAR_CACHE_PREFIXES"],
            "OPTIONS": {"socket_timeout": 0.75},
        },
    )
    assert other.near is not cache.near
    yield other
    near_cache_close(other.near)


@pytest.fixture
def redis_server():
    return redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])


def redis_reads(redis_server) -> int:
    stats = redis_server.info("commandstats")
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("get", "mget"))


def test_tracked_keys_are_read_from_memory_after_the_first_read(near, redis_server):
    cache.set(TRACKED, {"answer": 1}, 60)
    cache.set("untracked-near-cache-test", 2, 60)
    assert cache.get(TRACKED) == {"answer": 1}
    before = redis_reads(redis_server)

    for _ in range(5):
        assert cache.get(TRACKED) == {"answer": 1}
        assert cache.get_many([TRACKED]) == {TRACKED: {"answer": 1}}
    assert redis_reads(redis_server) == before

    assert cache.get("untracked-near-cache-test") == 2
    assert redis_reads(redis_server) == before + 1


def test_a_change_by_another_process_reaches_this_one(near, other_process):
    cache.set(TRACKED, "old", 60)
    assert cache.get(TRACKED) == "old"

    other_process.set(TRACKED, "new", 60)
    assert cache.get(TRACKED) == "new"

    other_process.delete(TRACKED)
    assert cache.get(TRACKED) is None


def test_the_next_read_sees_another_process_change_even_when_this_one_is_busy(near, other_process):
    """Reads apply the invalidations that arrived themselves: a listener thread starved of
    the GIL by busy request threads would leave old copies in use for a while."""
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            sum(range(1000))

    spinners = [threading.Thread(target=spin) for _ in range(3)]
    for spinner in spinners:
        spinner.start()
    try:
        stale = []
        for number in range(40):
            other_process.set(TRACKED, number, 60)
            if (seen := cache.get(TRACKED)) != number:
                stale.append((number, seen))
    finally:
        stop.set()
        for spinner in spinners:
            spinner.join()

    assert stale == []


def test_a_copy_is_not_served_once_its_key_expired(near, redis_server):
    redis_server.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)  # Redis sends no push now
    try:
        cache.set(TRACKED, "short-lived", 1)
        assert cache.get(TRACKED) == "short-lived"
        time.sleep(1.1)

        assert cache.get(TRACKED) is None
    finally:
        redis_server.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 1)


def test_a_flush_by_another_process_empties_the_near_cache(near, other_process):
    cache.set(TRACKED, "kept", 60)
    assert cache.get(TRACKED) == "kept"

    other_process.clear()

    assert cache.get(TRACKED) is None


def test_a_read_that_races_a_change_is_not_kept(near, other_process):
    cache.set(TRACKED, "old", 60)
    full_key = cache.make_key(TRACKED)
    marks = near.begin([full_key])  # a read of "old" is in flight...
    other_process.set(TRACKED, "new", 60)  # ...when another process changes the key
    assert near.ready  # applies the invalidation that has arrived
    assert near._values.get(full_key) is not marks[full_key]

    near.complete(marks, {full_key: ("old", None)}, time.monotonic())  # the read's late answer

    assert near.lookup([full_key]) == {}
    assert cache.get(TRACKED) == "new"


def test_a_lost_connection_turns_the_near_cache_off_until_it_is_back(
    near, redis_server, other_process
):
    cache.set(TRACKED, "before", 60)
    assert cache.get(TRACKED) == "before"
    full_key = cache.make_key(TRACKED)

    redis_server.client_kill_filter(_type="pubsub")
    assert wait_until(lambda: not near._ready)
    assert near.lookup([full_key]) == {}
    other_process.set(TRACKED, "during", 60)  # no invalidation can reach this process now

    assert wait_until(lambda: near.ready)
    assert cache.get(TRACKED) == "during"
    assert near.lookup([full_key]) == {full_key: "during"}


def test_a_closed_connection_is_not_reopened_without_tracking(near, other_process):
    """redis-py reopens a closed connection by itself; this one would then miss pushes."""
    cache.set(TRACKED, "old", 60)
    assert cache.get(TRACKED) == "old"

    near._connection.disconnect()
    other_process.set(TRACKED, "new", 60)

    assert cache.get(TRACKED) == "new"


def test_a_frozen_redis_turns_the_near_cache_off(near, redis_server):
    """No push and no end of file arrive from a Redis that stopped answering: the listener's
    check finds it, within its timeout."""
    redis_server.client_pause(5000, all=True)
    try:
        assert wait_until(lambda: not near._ready, seconds=4.5)
    finally:
        redis_server.execute_command("CLIENT", "UNPAUSE")

    assert wait_until(lambda: near.ready)


def test_a_forked_child_starts_without_the_parents_copies(near):
    cache.set(TRACKED, "parent", 60)
    assert cache.get(TRACKED) == "parent"
    full_key = cache.make_key(TRACKED)
    assert near.lookup([full_key]) == {full_key: "parent"}

    child = os.fork()
    if child == 0:
        os._exit(0 if near.lookup([full_key]) == {} else 1)
    _, status = os.waitpid(child, 0)

    assert os.waitstatus_to_exitcode(status) == 0


def test_with_redis_away_the_near_cache_never_answers(db):
    dead = ReusingRedisCache(
        "redis://127.0.0.1:1/0",
        {
            "NEAR_CACHE_PREFIXES": ["resolve:"],
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        },
    )
    time.sleep(0.2)

    try:
        assert dead.near.ready is False
        assert dead.near.begin([dead.make_key(TRACKED)]) == {}
        with pytest.raises(redis.ConnectionError):
            dead.get(TRACKED)
    finally:
        near_cache_close(dead.near)


def test_a_refusing_redis_leaves_the_near_cache_off_and_says_so(redis_server, caplog):
    """An ACL user without channel rights cannot subscribe: reads go to Redis, logged."""
    location = settings.CACHES["default"]["LOCATION"]
    redis_server.acl_setuser(
        "no-channels", enabled=True, passwords=["+secret"], keys=["*"], commands=["+@all"]
    )
    redis_server.execute_command("ACL", "SETUSER", "no-channels", "resetchannels")
    refused = ReusingRedisCache(
        location.replace("redis://", "redis://no-channels:secret@"),
        {"KEY_PREFIX": "refused", "NEAR_CACHE_PREFIXES": ["resolve:"]},
    )
    try:
        with caplog.at_level(logging.ERROR, logger="portal.near_cache"):
            assert not wait_until(lambda: refused.near.ready, seconds=1)
            refused.set(TRACKED, "still served", 60)

            assert refused.get(TRACKED) == "still served"
            assert "Redis refuses the near cache" in caplog.text
    finally:
        near_cache_close(refused.near)
        redis_server.acl_deluser("no-channels")


def test_redis_py_health_checks_and_retries_in_the_options_do_not_reach_the_near_cache(
    other_process,
):
    """Those would read the invalidations themselves or reopen the connection untracked."""
    tuned = ReusingRedisCache(
        settings.CACHES["default"]["LOCATION"],
        {
            "KEY_PREFIX": cache.key_prefix,
            "NEAR_CACHE_PREFIXES": ["resolve:"],
            "OPTIONS": {"health_check_interval": 1, "retry_on_timeout": True},
        },
    )
    full_key = tuned.make_key(TRACKED)
    try:
        assert wait_until(lambda: tuned.near.ready)
        connection = tuned.near._connection
        for number in range(3):
            time.sleep(1.2)  # longer than redis-py's health check interval
            other_process.set(TRACKED, number, 60)

            assert tuned.get(TRACKED) == number
            assert tuned.near.lookup([full_key]) == {full_key: number}
        assert tuned.near._connection is connection  # never dropped on the way
    finally:
        near_cache_close(tuned.near)


def test_a_resp3_url_still_gets_a_working_near_cache():
    location = settings.CACHES["default"]["LOCATION"]
    resp3 = ReusingRedisCache(
        location + "?protocol=3", {"KEY_PREFIX": cache.key_prefix, "NEAR_CACHE_PREFIXES": ["x:"]}
    )
    try:
        assert wait_until(lambda: resp3.near.ready)
    finally:
        near_cache_close(resp3.near)


@pytest.mark.django_db
class TestServing:
    """The resolve hot path reads the near cache; other workers' changes still show at once."""

    def test_a_warm_resolve_makes_no_redis_round_trip(self, near, redis_server, world):
        assert world.get().status_code == 200
        assert world.get().status_code == 200
        before = redis_reads(redis_server)

        assert world.get().json()["version"] == 1

        assert redis_reads(redis_server) == before

    def test_a_promotion_by_another_worker_is_served_at_once(self, near, other_process, world):
        assert world.get().json()["version"] == 1
        # Another worker commits a new production deployment and bumps the generation:
        Deployment.objects.filter(prompt=world.prompt, environment__slug="production").update(
            version=world.versions[2]
        )
        other_process.set("resolve:gen:production", "generation-of-another-worker", None)

        assert world.get().json()["version"] == 3

    def test_a_token_revoked_by_another_worker_stops_at_once(self, near, other_process, world):
        assert world.get().status_code == 200
        token = ApiToken.objects.get(kind="service", namespaces=world.namespace)
        ApiToken.objects.filter(pk=token.pk).update(revoked=True)
        other_process.set(token_cache_key(f"{token.prefix}.x"), REVOKED, 60)

        assert world.get().status_code == 401


def test_a_cache_with_replicas_has_no_near_cache():
    """A replica may answer with a value older than an invalidation already received."""
    replicated = ReusingRedisCache(
        "redis://127.0.0.1:1/0;redis://127.0.0.1:2/0", {"NEAR_CACHE_PREFIXES": ["resolve:"]}
    )

    assert replicated.near is None
