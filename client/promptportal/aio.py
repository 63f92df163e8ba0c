"""`AsyncPortal`: the same client for asyncio. `await portal.get(...)` answers from memory when
cached; one background task revalidates every cached prompt per interval, another sends call
events. Close it with `await portal.aclose()` (or `async with`)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx

from promptportal._base import (
    BATCH_PATH,
    EVENTS_PATH,
    MAX_BATCH,
    Base,
    Fallback,
    Unreachable,
    logger,
)
from promptportal._store import Key, request_item
from promptportal.errors import AccessDenied, PortalError
from promptportal.prompt import ResolvedPrompt


class AsyncPortal(Base):
    def __init__(self, *args: Any, transport: httpx.AsyncBaseTransport | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=self.timeout, transport=transport
        )
        self._tasks: dict[str, asyncio.Task] = {}
        self._batch_ready = asyncio.Event()
        self._closed = False

    async def get(
        self,
        name: str,
        *,
        subject: str | None = None,
        environment: str | None = None,
        version: int | None = None,
        fallback: Fallback | None = None,
    ) -> ResolvedPrompt:
        entry = self._store.entries.get((name, environment or self.environment, version))
        if entry is not None:
            return entry.pick(subject)
        return await self._miss((name, environment or self.environment, version), subject, fallback)

    async def _miss(self, key: Key, subject: str | None, fallback: Fallback | None):
        error = self._store.remembered_error(key)
        if error is not None:
            raise error
        try:
            body = {"prompts": [request_item(key, None)]}
            answer = await self._post(BATCH_PATH, body, self.retries, what=key[0])
        except Unreachable as exc:
            return self._last_resort(key, subject, fallback, exc)
        except AccessDenied as exc:
            self._store.refuse(key, exc)
            raise
        self._note_success()
        self._apply(answer)
        self._revalidation_needed()
        return self._found(key, subject)

    async def prefetch(self, names: list[str], *, environment: str | None = None) -> None:
        """As `Portal.prefetch`."""
        keys = [(name, environment or self.environment, None) for name in names]
        missing = [key for key in keys if key not in self._store.entries]
        for i in range(0, len(missing), MAX_BATCH):
            chunk = [request_item(key, None) for key in missing[i : i + MAX_BATCH]]
            try:
                answer = await self._post(BATCH_PATH, {"prompts": chunk}, self.retries)
            except Unreachable as exc:
                self._from_snapshot(missing[i:], exc)
                return
            self._apply(answer)
        self._note_success()
        self._revalidation_needed()

    async def revalidate(self) -> None:
        for chunk in self._chunks():
            try:
                answer = await self._post(BATCH_PATH, {"prompts": chunk}, retries=0)
            except AccessDenied as exc:
                self._refused(exc)
                return
            self._apply(answer)
        self._note_success()

    async def _post(self, path: str, body: dict[str, Any], retries: int, what: str = "") -> dict:
        for attempt in range(retries + 1):
            try:
                return self._answer(await self._http.post(path, json=body), what or path)
            except (httpx.TransportError, Unreachable) as exc:
                if attempt == retries:
                    raise Unreachable(str(exc) or type(exc).__name__) from exc
                await asyncio.sleep(self._retry_pause(attempt))
        raise AssertionError("the loop returns or raises")

    def _start(self, name: str, loop) -> None:
        if not self._closed and name not in self._tasks:
            self._tasks[name] = asyncio.get_running_loop().create_task(loop())

    async def _revalidate_forever(self) -> None:
        failures = 0
        while True:
            await asyncio.sleep(self._backoff(failures) if failures else self.interval)
            try:
                await self.revalidate()
                failures = 0
            except Unreachable as exc:
                failures += 1
                self._note_failure(exc)
            except Exception:  # the next round tries again
                failures += 1
                logger.exception("prompt portal revalidation failed")

    def _revalidation_needed(self) -> None:
        self._start("revalidate", self._revalidate_forever)

    def _flusher_needed(self) -> None:
        with contextlib.suppress(RuntimeError):  # reported outside a running loop: sent on flush
            self._start("events", self._flush_forever)
        if len(self._events) >= self._events.batch_size:
            self._batch_ready.set()

    async def _flush_forever(self) -> None:
        failures = 0
        while True:
            delay = self._backoff(failures) if failures else self.event_flush_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._batch_ready.wait(), delay)
            self._batch_ready.clear()
            failures = 0 if await self._send_events() else failures + 1

    async def _send_events(self) -> bool:
        while len(self._events):
            batch = self._events.take()
            try:
                answer = await self._post(EVENTS_PATH, {"events": batch}, retries=1)
            except (Unreachable, AccessDenied) as exc:
                self._events.put_back(batch)
                logger.warning("call events not sent (%s); %d waiting", exc, len(self._events))
                return False
            except PortalError as exc:
                logger.error("the portal refused %d call events: %s", len(batch), exc)
                continue
            self._events.sent += answer.get("accepted", 0) + answer.get("duplicates", 0)
        return True

    async def flush(self, timeout: float = 5.0) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._send_events(), timeout)
        return not len(self._events)

    async def aclose(self, timeout: float = 5.0) -> None:
        self._closed = True
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
        await self.flush(timeout)
        await self._http.aclose()

    async def __aenter__(self) -> AsyncPortal:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
