"""Cache access that degrades to a miss when the cache server is down (logged, never raised).

A hot path may `prefetch` every key it will read in one round trip; reads inside the block are
then answered from that snapshot (writes update it).

Invalidations (`cache_invalidate`) must not be lost to a short outage: a cached answer would
otherwise outlive the change it predates. Those that fail are retried every second, in the
background, until Redis takes them.
"""

import logging
import threading
import time
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


def cache_set(key: str, value: Any, timeout: int | None) -> bool:
    """True once the cache has it."""
    _remember(key, value)
    try:
        cache.set(key, value, timeout)
    except Exception:
        logger.warning("cache set failed for %s", key, exc_info=True)
        return False
    return True


def cache_add(key: str, value: Any, timeout: int) -> bool:
    """Set only if absent. On a cache failure answers True (act as if first)."""
    try:
        return cache.add(key, value, timeout)
    except Exception:
        logger.warning("cache add failed for %s", key, exc_info=True)
        return True


def cache_delete(key: str) -> bool:
    """True once the cache no longer has it."""
    _remember(key, _ABSENT)
    try:
        cache.delete(key)
    except Exception:
        logger.warning("cache delete failed for %s", key, exc_info=True)
        return False
    return True


_DELETE = object()
RETRY_SECONDS = 1.0
_pending: dict[str, tuple[Any, int | None]] = {}  # key -> (value or _DELETE, timeout)
_pending_lock = threading.Lock()
_retrying = False


def cache_invalidate(key: str, value: Any = _DELETE, timeout: int | None = None) -> None:
    """Set `key` (or delete it, without a value) now, or as soon as the cache takes it."""
    with _pending_lock:
        _pending.pop(key, None)  # this write supersedes a pending one
    if not _write(key, value, timeout):
        _retry_later(key, value, timeout)


def _write(key: str, value: Any, timeout: int | None) -> bool:
    return cache_delete(key) if value is _DELETE else cache_set(key, value, timeout)


def _retry_later(key: str, value: Any, timeout: int | None) -> None:
    global _retrying
    logger.error("invalidation of %s failed; retrying until the cache takes it", key)
    with _pending_lock:
        _pending[key] = (value, timeout)
        if _retrying:
            return
        _retrying = True
    threading.Thread(target=_retry_pending, name="cache-invalidations", daemon=True).start()


def _retry_pending() -> None:
    global _retrying
    while True:
        time.sleep(RETRY_SECONDS)
        with _pending_lock:
            if not _pending:
                _retrying = False
                return
            batch = list(_pending.items())
        for key, entry in batch:
            value, timeout = entry
            if not _write(key, value, timeout):
                break  # still unreachable: next round
            with _pending_lock:
                if _pending.get(key) is entry:
                    del _pending[key]
            logger.warning("invalidation of %s done after a retry", key)


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
