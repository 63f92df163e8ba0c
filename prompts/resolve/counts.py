"""How often deprecated prompts are still resolved, per environment, caller and UTC day.

The resolve path counts in Redis only (one hash per day: `HINCRBY` + `EXPIRE`, pipelined, one
round trip, only for a deprecated prompt's answer), never in the database; a failing Redis
loses counts, never a resolve (the breaker of `portal.cache` skips the call while Redis is
failing). `flush` moves the day totals into `ResolveCount`, absolute totals, so flushing twice
writes the same rows. Embedded (local-memory cache, one process) the counts live in this
process, as the local-memory cache itself does.
"""

import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Iterable

from django.core.cache import cache
from redis.exceptions import RedisError

from portal.cache import breaker
from prompts.models import Environment, Prompt, ResolveCount

logger = logging.getLogger(__name__)

# Counts stay in Redis this long, so a flush that was late (beat down for a while) still
# finds yesterday's.
KEEP_SECONDS = 3 * 86400
_SEPARATOR = "\t"  # never in a slug or a prompt name (the caller comes last: may hold one)

_local: dict[str, Counter[str]] = {}
_local_lock = threading.Lock()


def _day_key(day: dt.date) -> str:
    return cache.make_key(f"resolve-counts:v1:{day.isoformat()}")


def _redis():
    client = getattr(cache, "client", None)
    return None if client is None else client.get_client(write=True)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def note(*, namespace: str, name: str, environment: str, caller: str) -> None:
    """Count one resolve of a deprecated prompt. `caller` is the service token's name, ""
    for a person. Never raises, never touches the database."""
    day = today()
    field = _SEPARATOR.join((environment, f"{namespace}/{name}", caller))
    try:
        client = _redis()
        if client is None:
            with _local_lock:
                _local.setdefault(day.isoformat(), Counter())[field] += 1
            return
        if breaker.is_open():
            return
        key = _day_key(day)
        pipeline = client.pipeline(transaction=False)
        pipeline.hincrby(key, field, 1)
        pipeline.expire(key, KEEP_SECONDS)
        pipeline.execute()
    except (RedisError, OSError) as exc:  # the breaker has noted a connection failure
        logger.debug("resolve count lost: %s", exc)


def day_totals(day: dt.date) -> dict[tuple[str, str, str], int]:
    """(environment, "namespace/name", caller) → that day's resolves so far."""
    client = _redis()
    if client is None:
        with _local_lock:
            raw = dict(_local.get(day.isoformat(), {}))
    else:
        raw = {field.decode(): int(value) for field, value in client.hgetall(_day_key(day)).items()}
    totals = {}
    for field, count in raw.items():
        parts = field.split(_SEPARATOR, 2)
        if len(parts) == 3:
            totals[(parts[0], parts[1], parts[2])] = count
    return totals


def _prompt_ids(full_names: set[str]) -> dict[str, int]:
    """One query: a superset by namespace and by name, matched here."""
    pairs = [full_name.partition("/")[::2] for full_name in full_names]
    rows = Prompt.objects.filter(
        namespace__slug__in={namespace for namespace, _ in pairs}, name__in={n for _, n in pairs}
    ).values_list("pk", "namespace__slug", "name")
    found = {f"{namespace}/{name}": pk for pk, namespace, name in rows}
    return {full_name: found[full_name] for full_name in full_names if full_name in found}


def flush(*, days: Iterable[dt.date]) -> int:
    """Write the day totals of `days` into ResolveCount (insert or replace the count: safe to
    run twice). Three queries whatever the number of counters. Returns the rows written."""
    totals = {(day, *key): count for day in days for key, count in day_totals(day).items()}
    if not totals:
        return 0
    prompts = _prompt_ids({full_name for _, _, full_name, _ in totals})
    environments = dict(Environment.objects.values_list("slug", "pk"))
    rows = [
        ResolveCount(
            prompt_id=prompts[full_name],
            environment_id=environments[environment],
            day=day,
            token_name=caller,
            count=count,
        )
        for (day, environment, full_name, caller), count in totals.items()
        if full_name in prompts and environment in environments
    ]
    ResolveCount.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["prompt", "environment", "day", "token_name"],
        update_fields=["count"],
        batch_size=1000,
    )
    return len(rows)
