"""Cache access that degrades to a miss when the cache server is down (logged, never raised)."""

import logging
from typing import Any

from django.core.cache import cache

logger = logging.getLogger(__name__)
_MISS = object()


def cache_get(key: str, default: Any = None) -> Any:
    try:
        return cache.get(key, default)
    except Exception:  # redis down or unreachable: the database answers instead
        logger.warning("cache get failed for %s", key, exc_info=True)
        return default


def cache_get_many(keys: list[str]) -> dict[str, Any]:
    try:
        return cache.get_many(keys)
    except Exception:
        logger.warning("cache get_many failed", exc_info=True)
        return {}


def cache_set(key: str, value: Any, timeout: int) -> None:
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
    try:
        cache.delete(key)
    except Exception:
        logger.warning("cache delete failed for %s", key, exc_info=True)
