"""A process-local copy of chosen cache keys that Redis keeps current.

This is Redis' server-assisted client-side caching (`CLIENT TRACKING`, broadcast mode, RESP2
redirection; Redis >= 6). Each process holds one connection that asks Redis to track the
configured key prefixes and subscribes to the invalidation channel. Redis then sends the name
of every tracked key that any client sets or deletes, or that expires or is evicted, and the
local copy is dropped.

When is a change seen?
- A process's own writes drop its copy at once (the cache backend does that).
- Redis queues the invalidations of a command before it sends the command's reply (broadcast
  invalidations go out in the same pass over the clients as the reply), so when a write
  returns in one process, its invalidation is on its way to every other process.
- Every read first applies the invalidations that have reached this process's socket, in the
  reading thread (no waiting for a listener thread that may be starved of the GIL).
  So a request that another process serves after the write returned sees the change, unless
  the invalidation is slower from Redis to that process than the writer's answer and the
  caller's next request together (a congested link, or a process whose socket Redis could not
  write to at once).
- Copies also keep the key's TTL: an expired copy is never served.

While the connection is not up (starting, Redis away, reconnecting, refused), the near cache
answers nothing and keeps nothing: reads go to Redis as before, and no copy survives a time in
which an invalidation could have been missed. A listener thread applies invalidations when
nobody reads, and after every quiet second checks that Redis answers (a PING on a second
connection of its own, three-second timeout). So if Redis freezes or the network to it is cut
without closing the connections, copies can be served for up to about four seconds more,
while no change can reach Redis anyway (failed invalidations are retried: `portal.cache`).

A read that races with a change is handled as Redis' documentation advises: before asking
Redis, the reader leaves a placeholder; an invalidation removes it; the value read is kept only
if its own placeholder is still there.

Values are shared by every thread of the process: callers must not mutate what they get.
"""

import logging
import math
import os
import select
import threading
import time
from collections.abc import Iterable
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

INVALIDATION_CHANNEL = b"__redis__:invalidate"
MAX_ENTRIES = 10_000  # then start over: a bound on memory, not an eviction policy
HEALTH_CHECK_SECONDS = 1.0  # after this long without a push, check that Redis answers
# ... within this long. Shorter gave false alarms on a busy 2-core machine, where Redis itself
# was sometimes not scheduled for over a second.
HEALTH_CHECK_TIMEOUT_SECONDS = 3.0
RECONNECT_MAX_SECONDS = 5.0
REFUSED_RETRY_SECONDS = 60.0
# Cache options that are Django's, not connection settings.
_DJANGO_OPTIONS = {"serializer", "pool_class", "parser_class"}


def _single_use(base: type) -> type:
    """`base` that connects once. redis-py reopens a closed connection by itself on the next
    command or readiness check; this one must fail instead, since a reopened connection has
    neither tracking nor the subscription."""

    class SingleUse(base):
        _opened = False

        def connect_check_health(self, *args: Any, **kwargs: Any) -> None:
            if self._sock:
                return
            if self._opened:
                raise redis.ConnectionError("the near cache's connection was closed")
            self._opened = True
            super().connect_check_health(*args, **kwargs)

        def fileno(self) -> int:
            return self._sock.fileno()

    return SingleUse


class _Pending:
    """A read in flight; its value is kept only if this exact object is still in place."""

    __slots__ = ()


class NearCache:
    def __init__(self, url: str, prefixes: Iterable[str], options: dict[str, Any]) -> None:
        self.url = url
        self.prefixes = tuple(prefixes)
        self._options = {k: v for k, v in options.items() if k not in _DJANGO_OPTIONS}
        self._lock = threading.Lock()  # guards _values, _ready and _connection
        self._read_lock = threading.Lock()  # one reader of the connection at a time
        self._values: dict[str, tuple[Any, float] | _Pending] = {}
        self._ready = False
        self._connection: redis.connection.AbstractConnection | None = None
        self._poll: select.poll | None = None  # on the connection; used under _read_lock
        self._pid: int | None = None
        self._generation = 0  # a listener stops when this changes (fork, close)
        self._closed = False

    # --- what the cache backend calls ---------------------------------------------------------
    def tracks(self, key: str) -> bool:
        return key.startswith(self.prefixes)

    @property
    def ready(self) -> bool:
        """Connected, with every invalidation that has reached this process applied."""
        self._ensure_running()
        connection = self._connection
        if not self._ready or connection is None:
            return False
        with self._read_lock:
            if connection is not self._connection:
                return False
            try:
                if self._poll.poll(0):
                    self._drain(connection)
            except Exception:
                logger.warning("near cache lost its connection to Redis", exc_info=True)
                self._fail(connection)
                return False
        return self._ready

    def lookup(self, keys: Iterable[str]) -> dict[str, Any]:
        """The local copies of `keys` that are current; nothing while not connected."""
        if not self.ready:
            return {}
        values = self._values
        now = time.monotonic()
        found = {}
        for key in keys:
            item = values.get(key)
            if type(item) is tuple and item[1] > now:
                found[key] = item[0]
        return found

    def begin(self, keys: list[str]) -> dict[str, _Pending]:
        """Placeholders for a read of `keys` from Redis that is about to start."""
        if not keys or not self._ready:  # the caller's lookup has just applied what arrived
            return {}
        with self._lock:
            if len(self._values) + len(keys) > MAX_ENTRIES:
                self._values.clear()
            marks = {key: _Pending() for key in keys}
            self._values.update(marks)
            return marks

    def complete(
        self,
        marks: dict[str, _Pending],
        found: dict[str, tuple[Any, float | None]],
        started: float,
    ) -> None:
        """Keep what the read found (value, seconds to live or None), for each key not
        invalidated since `begin`; the TTLs count from `started` (monotonic, before the read)."""
        if not marks:
            return
        with self._lock:
            for key, mark in marks.items():
                if self._values.get(key) is mark:
                    if key in found:
                        value, ttl = found[key]
                        self._values[key] = (value, math.inf if ttl is None else started + ttl)
                    else:
                        del self._values[key]

    def forget(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._values.pop(key, None)

    def forget_all(self) -> None:
        with self._lock:
            self._values.clear()

    def close(self) -> None:
        """Stop the listener and keep nothing (for a cache that is no longer used)."""
        self._closed = True
        self._generation += 1
        self._set_ready(None)

    def reset_after_fork(self) -> None:
        """A forked child has none of the parent's threads: start over in the child."""
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._values = {}
        self._ready = False
        self._connection = None
        self._poll = None
        self._pid = None

    # --- the connection ---------------------------------------------------------------------------
    def _ensure_running(self) -> None:
        pid = os.getpid()
        if self._pid == pid or self._closed:
            return
        if self._pid is not None:  # forked without Python's fork hooks: start over here too
            self.reset_after_fork()
        with self._lock:
            if self._pid == pid:
                return
            self._pid = pid
            self._generation += 1
            try:
                threading.Thread(
                    target=self._run, args=(self._generation,), name="near-cache", daemon=True
                ).start()
            except RuntimeError:  # no more threads: stay off, reads go to Redis
                logger.error("near cache off: cannot start its thread", exc_info=True)

    def _set_ready(self, connection: redis.connection.AbstractConnection | None) -> None:
        with self._lock:
            self._values.clear()
            self._connection = connection
            self._ready = connection is not None
            if connection is not None:
                self._poll = select.poll()
                self._poll.register(connection.fileno(), select.POLLIN)

    def _fail(self, connection: redis.connection.AbstractConnection) -> None:
        """Stop answering from a connection that failed; the listener reconnects."""
        with self._lock:
            if self._connection is connection:
                self._values.clear()
                self._ready = False
                self._connection = None

    def _run(self, generation: int) -> None:
        parsed = redis.ConnectionPool.from_url(self.url, **self._options)
        connection_class = _single_use(parsed.connection_class)
        # Whatever the URL or the options say: RESP2 (pub/sub redirection), raw bytes, timeouts
        # of our own (this connection waits for pushes), and none of redis-py's retries and
        # health checks, which would read our messages or reopen the connection untracked.
        kwargs = {
            **parsed.connection_kwargs,
            "protocol": 2,
            "decode_responses": False,
            "socket_connect_timeout": 1,
            "socket_timeout": 5,
            "health_check_interval": 0,
            "retry": Retry(NoBackoff(), 0),
            "retry_on_timeout": False,
            "retry_on_error": [],
        }
        parsed.disconnect()
        delay = 0.05
        while generation == self._generation:
            connection = probe = None
            try:
                probe = connection_class(
                    **{**kwargs, "socket_timeout": HEALTH_CHECK_TIMEOUT_SECONDS}
                )
                probe.connect()
                connection = self._connect(connection_class(**kwargs))
                self._set_ready(connection)
                if delay > 0.05:
                    logger.warning("near cache connected to Redis again")
                delay = 0.05
                self._listen(connection, probe, generation)
            except redis.ResponseError as error:  # ACL, Redis < 6, CLIENT disabled: not transient
                logger.error("Redis refuses the near cache (reads go to Redis): %s", error)
                delay = REFUSED_RETRY_SECONDS
            except Exception as error:
                if delay == 0.05:
                    logger.warning("near cache off until Redis answers again: %s", error)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
            finally:
                if connection is not None:
                    with self._read_lock:
                        self._fail(connection)
                        connection.disconnect()
                if probe is not None:
                    probe.disconnect()
            time.sleep(delay)

    def _connect(
        self, connection: redis.connection.AbstractConnection
    ) -> redis.connection.AbstractConnection:
        try:
            connection.connect()
            connection.send_command("CLIENT", "ID")
            client_id = connection.read_response()
            prefixes = [part for prefix in self.prefixes for part in ("PREFIX", prefix)]
            tracking = ("CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST", *prefixes)
            connection.send_command(*tracking)
            connection.read_response()
            connection.send_command("SUBSCRIBE", INVALIDATION_CHANNEL)
            connection.read_response()
        except Exception:
            connection.disconnect()
            raise
        return connection

    def _listen(
        self,
        connection: redis.connection.AbstractConnection,
        probe: redis.connection.AbstractConnection,
        generation: int,
    ) -> None:
        """Apply pushes when nobody reads; after a quiet second, check that Redis answers.
        The check runs on a second connection, so that its replies never mix with the pushes
        that request threads read. A closed subscribed connection shows as readable (end of
        file) and fails in `_drain`."""
        waiting = select.poll()  # this thread's own: a poll object is not shared while polling
        waiting.register(connection.fileno(), select.POLLIN)
        while generation == self._generation and self._connection is connection and self._ready:
            if waiting.poll(HEALTH_CHECK_SECONDS * 1000):
                with self._read_lock:
                    if self._connection is not connection:
                        return
                    self._drain(connection)
            else:
                probe.send_command("PING")
                probe.read_response()  # raises after HEALTH_CHECK_TIMEOUT_SECONDS

    def _drain(self, connection: redis.connection.AbstractConnection) -> None:
        """Apply every message that has arrived (the caller holds the read lock)."""
        while connection.can_read(timeout=0):
            # On an error the listener drops the connection (it must not reconnect by itself).
            message = connection.read_response(timeout=1, disconnect_on_error=False)
            if message[0] == b"message" and message[1] == INVALIDATION_CHANNEL:
                self._invalidate(message[2])

    def _invalidate(self, keys: list[bytes] | None) -> None:
        if keys is None:  # FLUSHDB / FLUSHALL
            self.forget_all()
        else:
            self.forget(key.decode(errors="surrogateescape") for key in keys)


_registry: dict[tuple[str, tuple[str, ...], str], NearCache] = {}
_registry_lock = threading.Lock()


def near_cache_for(url: str, prefixes: Iterable[str], options: dict[str, Any]) -> NearCache:
    """The one near cache of this process for a Redis server, its options and prefixes."""
    identity = (url, tuple(prefixes), repr(sorted(options.items())))
    with _registry_lock:
        near = _registry.get(identity)
        if near is None:
            near = _registry[identity] = NearCache(url, identity[1], options)
        return near


def near_cache_close(near: NearCache) -> None:
    with _registry_lock:
        for identity, known in list(_registry.items()):
            if known is near:
                del _registry[identity]
    near.close()


def _after_fork_in_child() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()
    for near in _registry.values():
        near.reset_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
