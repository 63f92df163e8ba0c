"""A process-local copy of chosen cache keys that Redis keeps current.

This is Redis' server-assisted client-side caching (`CLIENT TRACKING`, broadcast mode, RESP2
redirection; Redis >= 6). One daemon thread per process holds one connection that asks Redis
to track the configured key prefixes and subscribes to the invalidation channel. Redis then
pushes the name of every tracked key that any client sets, deletes, or that expires or is
evicted, and the thread drops the local copy. A key this process writes itself is dropped
at once, so a process always reads its own writes.

While that connection is not up (starting, Redis away, reconnecting), the near cache answers
nothing and keeps nothing: callers read Redis as before, and no copy survives a time in which
an invalidation could have been missed. A silent connection is noticed by a ping every second.

A read that races with a change is handled as Redis' documentation advises: before asking
Redis, the reader leaves a placeholder; an invalidation removes it; the value read is kept only
if its own placeholder is still there.

Values are shared by every thread of the process: callers must not mutate what they get.
"""

import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

import redis

logger = logging.getLogger(__name__)

INVALIDATION_CHANNEL = "__redis__:invalidate"
MAX_ENTRIES = 10_000  # then start over: a bound on memory, not an eviction policy
HEALTH_CHECK_SECONDS = 1.0
RECONNECT_MAX_SECONDS = 5.0


class _Pending:
    """A read in flight; its value is kept only if this exact object is still in place."""

    __slots__ = ()


class NearCache:
    def __init__(self, url: str, prefixes: Iterable[str]) -> None:
        self.url = url
        self.prefixes = tuple(prefixes)
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {}
        self._ready = False
        self._pid: int | None = None
        self._generation = 0  # counts connections; a stale listener stops when it changes

    # --- what the cache backend calls ---------------------------------------------------------
    def tracks(self, key: str) -> bool:
        return key.startswith(self.prefixes)

    @property
    def ready(self) -> bool:
        self._ensure_running()
        return self._ready

    def lookup(self, keys: Iterable[str]) -> dict[str, Any]:
        """The local copies of `keys` that are current; nothing while not connected."""
        if not self.ready:
            return {}
        values = self._values
        found = {}
        for key in keys:
            value = values.get(key, _Pending)
            if value is not _Pending and not isinstance(value, _Pending):
                found[key] = value
        return found

    def begin(self, keys: list[str]) -> dict[str, _Pending]:
        """Placeholders for a read of `keys` from Redis that is about to start."""
        if not keys or not self.ready:
            return {}
        with self._lock:
            if len(self._values) + len(keys) > MAX_ENTRIES:
                self._values.clear()
            marks = {key: _Pending() for key in keys}
            self._values.update(marks)
            return marks

    def complete(self, marks: dict[str, _Pending], found: dict[str, Any]) -> None:
        """Keep what the read found, for each key not invalidated since `begin`."""
        if not marks:
            return
        with self._lock:
            for key, mark in marks.items():
                if self._values.get(key) is mark:
                    if key in found:
                        self._values[key] = found[key]
                    else:
                        del self._values[key]

    def forget(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._values.pop(key, None)

    def forget_all(self) -> None:
        with self._lock:
            self._values.clear()

    def reset_after_fork(self) -> None:
        """A forked child has none of the parent's threads: start over in the child."""
        self._lock = threading.Lock()
        self._values = {}
        self._ready = False
        self._pid = None

    # --- the listener thread --------------------------------------------------------------------
    def _ensure_running(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._generation += 1
            threading.Thread(
                target=self._run, args=(self._generation,), name="near-cache", daemon=True
            ).start()

    def _set_ready(self, ready: bool) -> None:
        with self._lock:
            self._values.clear()
            self._ready = ready

    def _run(self, generation: int) -> None:
        delay = 0.05
        while generation == self._generation:
            connection = None
            try:
                connection = self._connect()
                self._set_ready(True)
                if delay > 0.05:
                    logger.warning("near cache reconnected to Redis")
                delay = 0.05
                self._listen(connection, generation)
            except Exception as error:
                if delay == 0.05:
                    logger.warning("near cache off until Redis answers again: %s", error)
            finally:
                self._set_ready(False)
                if connection is not None:
                    connection.disconnect()
            time.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    def _connect(self) -> redis.connection.AbstractConnection:
        pool = redis.ConnectionPool.from_url(
            self.url, protocol=2, socket_connect_timeout=1, socket_timeout=5
        )
        connection = pool.make_connection()
        connection.connect()
        connection.send_command("CLIENT", "ID")
        client_id = connection.read_response()
        prefixes = [part for prefix in self.prefixes for part in ("PREFIX", prefix)]
        tracking = ("CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST", *prefixes)
        connection.send_command(*tracking)
        connection.read_response()
        connection.send_command("SUBSCRIBE", INVALIDATION_CHANNEL)
        connection.read_response()
        return connection

    def _listen(self, connection, generation: int) -> None:
        awaiting_pong = False
        while generation == self._generation:
            if connection.can_read(timeout=HEALTH_CHECK_SECONDS):
                message = connection.read_response()
                kind = message[0]
                if kind == b"message" and message[1] == INVALIDATION_CHANNEL.encode():
                    self._invalidate(message[2])
                elif kind == b"pong":
                    awaiting_pong = False
            elif awaiting_pong:
                raise ConnectionError("Redis did not answer the near cache's ping")
            else:
                connection.send_command("PING")
                awaiting_pong = True

    def _invalidate(self, keys: list[bytes] | None) -> None:
        if keys is None:  # FLUSHDB / FLUSHALL
            self.forget_all()
        else:
            self.forget(key.decode() for key in keys)


_registry: dict[tuple[str, tuple[str, ...]], NearCache] = {}
_registry_lock = threading.Lock()


def near_cache_for(url: str, prefixes: Iterable[str]) -> NearCache:
    """The one near cache of this process for a Redis server and set of prefixes."""
    identity = (url, tuple(prefixes))
    with _registry_lock:
        near = _registry.get(identity)
        if near is None:
            near = _registry[identity] = NearCache(url, identity[1])
        return near


def _after_fork_in_child() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()
    for near in _registry.values():
        near.reset_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
