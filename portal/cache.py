"""The shared cache (django-redis on Redis; local memory when embedded) and how it fails.

Reads and best-effort writes go through Django's `cache`: django-redis answers a miss when
Redis is away (`IGNORE_EXCEPTIONS`), so callers fall back to the database. Each call waits
at most `REDIS_SOCKET_TIMEOUT`, and after a timeout or a refused connection this process
stops asking Redis for `CACHE_RETRY_AFTER` seconds (`breaker`), so a request during a
Redis freeze pays one short timeout, not one per call.

Writes that must not be lost (invalidations) go through `portal.outbox`, which uses
`write_now`: it ignores the breaker and reports whether Redis took the write.
"""

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django_redis.compressors.identity import IdentityCompressor
from django_redis.exceptions import ConnectionInterrupted
from redis.backoff import NoBackoff
from redis.connection import Connection, ConnectionPool, SSLConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

logger = logging.getLogger(__name__)


class Breaker:
    """Opens for `CACHE_RETRY_AFTER` seconds when Redis times out or refuses a connection;
    while open, calls fail at once instead of waiting."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._open_until = 0.0
        self._lock = threading.Lock()

    def is_open(self) -> bool:
        return time.monotonic() < self._open_until and not _bypass.get()

    def trip(self, error: Exception) -> None:
        with self._lock:
            first = time.monotonic() >= self._open_until
            self._open_until = time.monotonic() + settings.CACHE_RETRY_AFTER
        if first:
            logger.warning(
                "%s failed (%s); not asking it for %s s",
                self.name,
                error,
                settings.CACHE_RETRY_AFTER,
            )

    def close(self) -> None:
        self._open_until = 0.0


breaker = Breaker("Redis")
# The Celery broker (Redis too, maybe another server): publishes skip it while it fails.
broker_breaker = Breaker("The Celery broker")
_bypass: ContextVar[bool] = ContextVar("cache_breaker_bypass", default=False)


@contextmanager
def breaker_bypassed() -> Iterator[None]:
    token = _bypass.set(True)
    try:
        yield
    finally:
        _bypass.reset(token)


class FailFast:
    """A redis-py connection that never retries on its own and honours the breaker."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["retry"] = Retry(NoBackoff(), 0)
        kwargs["retry_on_timeout"] = False
        super().__init__(*args, **kwargs)

    def _refuse_when_open(self) -> None:
        if breaker.is_open():
            raise RedisConnectionError("Redis is marked unavailable (recent failure)")

    def connect(self) -> None:
        self._refuse_when_open()
        try:
            super().connect()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            breaker.trip(exc)
            raise

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        self._refuse_when_open()
        try:
            super().send_packed_command(command, check_health)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            breaker.trip(exc)
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            breaker.trip(exc)
            raise


class FailFastConnection(FailFast, Connection):
    pass


class FailFastSSLConnection(FailFast, SSLConnection):
    pass


class FailFastConnectionPool(ConnectionPool):
    """The pool django-redis builds (`CONNECTION_POOL_CLASS`), with fail-fast connections."""

    def __init__(self, connection_class: type = Connection, **kwargs: Any) -> None:
        fail_fast = {Connection: FailFastConnection, SSLConnection: FailFastSSLConnection}
        super().__init__(
            connection_class=fail_fast.get(connection_class, connection_class), **kwargs
        )


def read_many(keys: list[str]) -> dict[str, Any]:
    """`cache.get_many` for the hot path (a warm resolve): one MGET without django-redis's
    per-call wrappers and per-value integer probe. Never raises: an unavailable Redis is a
    miss, as with `IGNORE_EXCEPTIONS`."""
    client = getattr(cache, "client", None)
    if client is None:
        return cache.get_many(keys)
    decode = client.decode
    if isinstance(client._compressor, IdentityCompressor):
        decode = client._serializer.loads  # all that `decode` does to the values stored here
    try:
        values = client.get_client(write=False).mget([cache.make_key(key) for key in keys])
    except (RedisError, OSError):
        return {}
    return {key: decode(value) for key, value in zip(keys, values, strict=True) if value}


def write_now(*, delete: list[str], set_values: Mapping[str, Any], timeout: int | None) -> bool:
    """Delete and set keys in one round trip, whatever the breaker says. True once the cache
    has the writes; False (logged) when Redis did not take them."""
    client = getattr(cache, "client", None)
    if client is None:  # local memory: cannot fail
        if delete:
            cache.delete_many(delete)
        if set_values:
            cache.set_many(dict(set_values), timeout)
        return True
    try:
        with breaker_bypassed():
            pipeline = client.get_client(write=True).pipeline(transaction=False)
            if delete:
                client.delete_many(delete, client=pipeline)
            for key, value in set_values.items():
                client.set(key, value, timeout, client=pipeline)
            pipeline.execute()
    except (RedisError, OSError, ConnectionInterrupted) as exc:
        logger.error("Redis did not take %d cache writes: %s", len(delete) + len(set_values), exc)
        return False
    return True


def cache_incr(key: str, timeout: int) -> int:
    """Count atomically; the first count sets the expiry. Best effort: the count, or 0 when
    the cache could not answer."""
    if cache.add(key, 1, timeout):
        return 1
    try:
        return cache.incr(key) or 0
    except ValueError:  # expired between the add and the incr
        return 1 if cache.add(key, 1, timeout) else 0
