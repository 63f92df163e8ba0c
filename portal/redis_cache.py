"""Django's Redis cache, reusing one client per connection pool, with an optional near cache.

Django builds a new `redis.Redis` object for every cache call, which costs about 0.1 ms of
setup each time; on the resolve hot path that was most of the request. Clients are
thread-safe (the pool hands out connections), so one per pool is enough.

Keys under `NEAR_CACHE_PREFIXES` (a CACHES entry setting) are also kept in process memory and
kept current by Redis (`portal.near_cache`): reading them costs no round trip. Only with a
single Redis server: a LOCATION that lists replicas turns the near cache off.
"""

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from portal.near_cache import near_cache_for


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._client(connection_pool=self._get_connection_pool(write))
            self._clients[index] = client
        return client

    def get_many_with_ttl(self, keys: list[str]) -> dict[str, tuple[Any, float | None]]:
        """Values with their seconds to live (None: no expiry), in one round trip."""
        with self.get_client(None).pipeline(transaction=False) as pipe:
            pipe.mget(keys)
            for key in keys:
                pipe.pttl(key)
            values, *ttls = pipe.execute()
        # PTTL: -1 no expiry; -2 gone since the MGET (then keep nothing: 0 seconds).
        return {
            key: (self._serializer.loads(value), None if ttl == -1 else max(ttl, 0) / 1000)
            for key, value, ttl in zip(keys, values, ttls, strict=True)
            if value is not None
        }


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
        prefixes = [self.make_key(prefix) for prefix in params.get("NEAR_CACHE_PREFIXES", ())]
        # With replicas, a read could reach a replica that has not yet seen a change whose
        # invalidation already arrived; the near cache would then keep the old value.
        near = prefixes and len(self._servers) == 1
        self.near = near_cache_for(self._servers[0], prefixes, self._options) if near else None

    def validate_key(self, key: str) -> None:
        """Memcached's key rules (what Django warns about) do not apply to Redis; checking them
        character by character cost more than the rest of a cached read."""

    # --- reads ----------------------------------------------------------------------------------
    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        full = self.make_key(key, version=version)
        if self.near is None or not self.near.tracks(full):
            return self._cache.get(full, default)
        return self._read([full]).get(full, default)

    def get_many(self, keys: Iterable[str], version: int | None = None) -> dict[str, Any]:
        key_map = {self.make_key(key, version=version): key for key in keys}
        return {key_map[full]: value for full, value in self._read(list(key_map)).items()}

    def _read(self, full_keys: list[str]) -> dict[str, Any]:
        near = self.near
        if near is None:
            return self._cache.get_many(full_keys)
        tracked: list[str] = []
        untracked: list[str] = []
        for key in full_keys:
            (tracked if key.startswith(near.prefixes) else untracked).append(key)
        found = near.lookup(tracked) if tracked else {}
        missing = [key for key in tracked if key not in found]
        if untracked:
            found.update(self._cache.get_many(untracked))
        if missing:
            marks = near.begin(missing)
            started = time.monotonic()
            fetched: dict[str, tuple[Any, float | None]] = {}
            try:
                fetched = self._cache.get_many_with_ttl(missing)
            finally:
                near.complete(marks, fetched, started)
            found.update((key, value) for key, (value, _) in fetched.items())
        return found

    # --- writes drop the local copy once Redis has the change ----------------------------------
    @contextmanager
    def _writing(self, keys: Iterable[str], version: int | None) -> Iterator[None]:
        near = self.near
        tracked = []
        if near is not None:
            full_keys = (self.make_key(key, version=version) for key in keys)
            tracked = [key for key in full_keys if near.tracks(key)]
        try:
            yield
        finally:
            if tracked:
                near.forget(tracked)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        with self._writing([key], version):
            return super().add(key, value, timeout, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> None:
        with self._writing([key], version):
            super().set(key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None) -> list:
        data = dict(data)
        with self._writing(data, version):
            return super().set_many(data, timeout, version)

    def delete(self, key, version=None) -> bool:
        with self._writing([key], version):
            return super().delete(key, version)

    def delete_many(self, keys, version=None) -> None:
        keys = list(keys)
        with self._writing(keys, version):
            super().delete_many(keys, version)

    def incr(self, key, delta=1, version=None) -> int:
        with self._writing([key], version):
            return super().incr(key, delta, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        with self._writing([key], version):  # the local copy carries the old expiry
            return super().touch(key, timeout, version)

    def clear(self) -> bool:
        try:
            return super().clear()
        finally:
            if self.near is not None:
                self.near.forget_all()
