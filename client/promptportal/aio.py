"""`AsyncPortal`: the same client for asyncio. `await portal.get(...)` answers from memory when
cached; one background task revalidates every cached prompt per interval, another sends call
events. Close it with `await portal.aclose()` (or `async with`). The decisions are `Base`'s,
shared with `Portal`; this is the I/O."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx

from promptportal._base import BATCH_PATH, EVENTS_PATH, Base, Fallback, Unreachable, logger
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
        self._sending = asyncio.Lock()

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
        prompt, body = self._miss_plan(key, subject, fallback)
        if body is None:
            return prompt
        try:
            answer = await self._post(BATCH_PATH, body, self._retries_now(), what=key[0])
        except (Unreachable, AccessDenied) as exc:
            return self._miss_done(key, subject, fallback, failure=exc)
        return self._miss_done(key, subject, fallback, answer=answer)

    async def prefetch(self, names: list[str], *, environment: str | None = None) -> None:
        """As `Portal.prefetch`."""
        for keys in self._prefetch_chunks(names, environment):
            body = {"prompts": [request_item(key, None) for key in keys]}
            try:
                answer = await self._post(BATCH_PATH, body, self._retries_now())
            except (Unreachable, AccessDenied) as exc:
                self._prefetch_failed(keys, exc)
                return
            self._reachable(answer)
        self._revalidation_needed()

    async def revalidate(self) -> None:
        for body in self._round():
            try:
                answer = await self._post(BATCH_PATH, body, retries=0)
            except (Unreachable, AccessDenied) as exc:
                self._round_failed(exc)
                return
            self._reachable(answer)

    async def _post(self, path: str, body: dict[str, Any], retries: int, what: str = "") -> dict:
        for attempt in range(retries + 1):
            try:
                return self._answer(await self._http.post(path, json=body), what or path)
            except (httpx.TransportError, Unreachable) as exc:
                if attempt == retries:
                    raise Unreachable(str(exc) or type(exc).__name__) from exc
                await asyncio.sleep(self._retry_pause(attempt))
        raise AssertionError("the loop returns or raises")

    # --- background tasks --------------------------------------------------------------------

    def _start(self, name: str, loop) -> None:
        task = self._tasks.get(name)
        if self._closed or (task is not None and not task.done()):
            return
        self._tasks[name] = asyncio.get_running_loop().create_task(loop())

    def _revalidation_needed(self) -> None:
        self._start("revalidate", self._revalidate_forever)

    def _flusher_needed(self) -> None:
        with contextlib.suppress(RuntimeError):  # reported outside a running loop: sent on flush
            self._start("events", self._flush_forever)
        if len(self._events) >= self._events.batch_size:
            self._batch_ready.set()

    async def _revalidate_forever(self) -> None:
        while True:
            await asyncio.sleep(self._next_round_in())
            try:
                await self.revalidate()
            except Exception:  # the next round tries again
                logger.exception("prompt portal revalidation failed")

    async def _flush_forever(self) -> None:
        while True:
            if self._events_failing:  # back off, whatever is waiting
                await asyncio.sleep(self._backoff(1))
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._batch_ready.wait(), self.event_flush_interval)
            self._batch_ready.clear()
            await self._send_events()

    async def _send_events(self) -> bool:
        """One sender at a time (the flusher task or `flush`): a flush returns only once the
        batch the flusher had in flight is settled too."""
        async with self._sending:
            while len(self._events):
                batch = self._events.take()
                try:
                    answer = await self._post(EVENTS_PATH, {"events": batch}, retries=1)
                except (Unreachable, PortalError) as exc:
                    if self._events_failed(batch, exc):
                        return False
                    continue
                except BaseException as exc:  # cancelled (a timeout, aclose): the batch waits
                    self._events_failed(batch, exc)
                    raise
                self._events_sent(batch, answer)
            return True

    async def flush(self, timeout: float = 5.0) -> bool:
        """Send every buffered event now; True when nothing is left."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._send_events(), timeout)
        return not len(self._events)

    async def aclose(self, timeout: float = 5.0) -> None:
        """Stop the background tasks (a batch they were sending goes back in the buffer),
        then send what is buffered."""
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
        if not self._closed:
            await self.flush(timeout)
        self._closed = True
        await self._http.aclose()

    async def __aenter__(self) -> AsyncPortal:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
