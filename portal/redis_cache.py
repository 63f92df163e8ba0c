"""Django's Redis cache, reusing one client per connection pool, with an optional near cache.

Django builds a new `redis.Redis` object for every cache call, which costs about 0.1 ms of
setup each time; on the resolve hot path that was most of the request. Clients are
thread-safe (the pool hands out connections), so one per pool is enough.

Keys under `NEAR_CACHE_PREFIXES` (a CACHES entry setting) are also kept in process memory and
kept current by Redis (`portal.near_cache`): reading them costs no round trip. Only with a
single Redis server: a LOCATION that lists replicas turns the near cache off.
"""

from collections.abc import Iterable
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


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
        prefixes = [self.make_key(prefix) for prefix in params.get("NEAR_CACHE_PREFIXES", ())]
        # With replicas, a read could reach a replica that has not yet seen a change whose
        # invalidation already arrived; the near cache would then keep the old value.
        near = prefixes and len(self._servers) == 1
        self.near = near_cache_for(self._servers[0], prefixes) if near else None

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
        found = near.lookup(key for key in full_keys if near.tracks(key))
        missing = [key for key in full_keys if key not in found]
        if not missing:
            return found
        marks = near.begin([key for key in missing if near.tracks(key)])
        fetched: dict[str, Any] = {}
        try:
            fetched = self._cache.get_many(missing)
        finally:
            near.complete(marks, fetched)
        return {**found, **fetched}

    # --- writes drop the local copy once Redis has the change -----------------------------------
    def _forget(self, keys: Iterable[str], version: int | None) -> None:
        if self.near is not None:
            full_keys = (self.make_key(key, version=version) for key in keys)
            self.near.forget(key for key in full_keys if self.near.tracks(key))

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        try:
            return super().add(key, value, timeout, version)
        finally:
            self._forget([key], version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> None:
        try:
            super().set(key, value, timeout, version)
        finally:
            self._forget([key], version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None) -> list:
        try:
            return super().set_many(data, timeout, version)
        finally:
            self._forget(data, version)

    def delete(self, key, version=None) -> bool:
        try:
            return super().delete(key, version)
        finally:
            self._forget([key], version)

    def delete_many(self, keys, version=None) -> None:
        try:
            super().delete_many(keys, version)
        finally:
            self._forget(keys, version)

    def incr(self, key, delta=1, version=None) -> int:
        try:
            return super().incr(key, delta, version)
        finally:
            self._forget([key], version)

    def clear(self) -> bool:
        try:
            return super().clear()
        finally:
            if self.near is not None:
                self.near.forget_all()
