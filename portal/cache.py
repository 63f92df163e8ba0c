"""Cache access that degrades to a miss when the cache server is down (logged, never raised).

A hot path may `prefetch` every key it will read in one round trip; reads inside the block are
then answered from that snapshot (writes update it).
"""

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.cache import cache

logger = logging.getLogger(__name__)
_ABSENT = object()
_snapshot: ContextVar[dict[str, Any] | None] = ContextVar("cache_snapshot", default=None)


@contextmanager
def prefetch(keys: Iterable[str]) -> Iterator[None]:
    keys = list(keys)
    found = _get_many(keys)
    token = _snapshot.set({key: found.get(key, _ABSENT) for key in keys})
    try:
        yield
    finally:
        _snapshot.reset(token)


def _remember(key: str, value: Any) -> None:
    snapshot = _snapshot.get()
    if snapshot is not None and key in snapshot:
        snapshot[key] = value


def cache_get(key: str, default: Any = None) -> Any:
    snapshot = _snapshot.get()
    if snapshot is not None and key in snapshot:
        value = snapshot[key]
        return default if value is _ABSENT else value
    try:
        return cache.get(key, default)
    except Exception:  # redis down or unreachable: the database answers instead
        logger.warning("cache get failed for %s", key, exc_info=True)
        return default


def cache_get_many(keys: list[str]) -> dict[str, Any]:
    snapshot = _snapshot.get() or {}
    known = {k: snapshot[k] for k in keys if k in snapshot and snapshot[k] is not _ABSENT}
    unknown = [k for k in keys if k not in snapshot]
    return {**known, **(_get_many(unknown) if unknown else {})}


def _get_many(keys: list[str]) -> dict[str, Any]:
    try:
        return cache.get_many(keys)
    except Exception:
        logger.warning("cache get_many failed", exc_info=True)
        return {}


def cache_set(key: str, value: Any, timeout: int | None) -> None:
    _remember(key, value)
    try:
        cache.set(key, value, timeout)
    except Exception:
        logger.warning("cache set failed for %s", key, exc_info=True)


def cache_add(key: str, value: Any, timeout: int) -> bool:
    """Set only if absent. On a cache failure answers True (act as if first)."""
    try:
        return cache.add(key, value, timeout)
    except Exception:
        logger.warning("cache add failed for %s", key, exc_info=True)
        return True


def cache_delete(key: str) -> None:
    _remember(key, _ABSENT)
    try:
        cache.delete(key)
    except Exception:
        logger.warning("cache delete failed for %s", key, exc_info=True)


def cache_incr(key: str, timeout: int) -> None:
    """Count atomically; the first count sets the expiry."""
    if cache_add(key, 1, timeout):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between the add and the incr
        cache_add(key, 1, timeout)
    except Exception:
        logger.warning("cache incr failed for %s", key, exc_info=True)
