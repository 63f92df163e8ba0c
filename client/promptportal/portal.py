"""`Portal`: the synchronous client. A cached `get` is a dict lookup; one background thread
revalidates every cached prompt in one request per interval; another sends call events.
The decisions (what to serve, when to back off, what to drop) are `Base`'s; this is the I/O."""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from typing import Any

import httpx

from promptportal._base import BATCH_PATH, EVENTS_PATH, Base, Fallback, Unreachable, logger
from promptportal._store import Key, request_item
from promptportal.errors import AccessDenied, PortalError
from promptportal.prompt import ResolvedPrompt


class Portal(Base):
    """`Portal(base_url, token, environment="production")`, or from PROMPT_PORTAL_URL and
    PROMPT_PORTAL_TOKEN. See the package's README for the freshness and outage rules."""

    def __init__(self, *args: Any, transport: httpx.BaseTransport | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._transport = transport
        self._threads_afresh()
        _live.add(self)
        if hasattr(os, "register_at_fork"):
            me = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: (p := me()) and p._forked())

    def _threads_afresh(self) -> None:
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=self.headers,
            timeout=self.timeout,
            transport=self._transport,
        )
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        self._stop = threading.Event()
        self._revalidator: threading.Thread | None = None
        self._flusher: threading.Thread | None = None

    # --- prompts ---------------------------------------------------------------------------

    def get(
        self,
        name: str,
        *,
        subject: str | None = None,
        environment: str | None = None,
        version: int | None = None,
        fallback: Fallback | None = None,
    ) -> ResolvedPrompt:
        """The prompt `namespace/name` as the environment runs it (or a pinned version); with
        a `subject`, its experiment arm. From memory when cached."""
        entry = self._store.entries.get((name, environment or self.environment, version))
        if entry is not None:
            return entry.pick(subject)
        return self._miss((name, environment or self.environment, version), subject, fallback)

    def _miss(self, key: Key, subject: str | None, fallback: Fallback | None) -> ResolvedPrompt:
        prompt, body = self._miss_plan(key, subject, fallback)
        if body is None:
            return prompt
        try:
            answer = self._post(BATCH_PATH, body, self._retries_now(), what=key[0])
        except (Unreachable, AccessDenied) as exc:
            return self._miss_done(key, subject, fallback, failure=exc)
        return self._miss_done(key, subject, fallback, answer=answer)

    def prefetch(self, names: list[str], *, environment: str | None = None) -> None:
        """Fetch prompts before they are needed (a service starting up), in one request per
        thousand. If the portal cannot be reached, a snapshot's copies are taken instead;
        what the portal refused is raised by `get`."""
        for keys in self._prefetch_chunks(names, environment):
            body = {"prompts": [request_item(key, None) for key in keys]}
            try:
                answer = self._post(BATCH_PATH, body, self._retries_now())
            except (Unreachable, AccessDenied) as exc:
                self._prefetch_failed(keys, exc)
                return
            self._reachable(answer)
        self._revalidation_needed()

    def revalidate(self) -> None:
        """One revalidation round now (the background thread calls this every interval)."""
        for body in self._round():
            try:
                answer = self._post(BATCH_PATH, body, retries=0)
            except (Unreachable, AccessDenied) as exc:
                self._round_failed(exc)
                return
            self._reachable(answer)

    def _post(self, path: str, body: dict[str, Any], retries: int, what: str = "") -> dict:
        for attempt in range(retries + 1):
            try:
                return self._answer(self._http.post(path, json=body), what or path)
            except (httpx.TransportError, Unreachable) as exc:
                if attempt == retries:
                    raise Unreachable(str(exc) or type(exc).__name__) from exc
                time.sleep(self._retry_pause(attempt))
        raise AssertionError("the loop returns or raises")

    # --- background threads ------------------------------------------------------------------

    def _revalidation_needed(self) -> None:
        if self._revalidator is None:
            self._start("revalidator", self._revalidate_forever)

    def _flusher_needed(self) -> None:
        if self._flusher is None:
            self._start("flusher", self._flush_forever)

    def _start(self, which: str, target) -> None:
        with self._lock:
            if self._stop.is_set() or getattr(self, f"_{which}") is not None:
                return
            thread = threading.Thread(target=target, name=f"promptportal-{which}", daemon=True)
            setattr(self, f"_{which}", thread)
            thread.start()

    def _revalidate_forever(self) -> None:
        while not self._stop.wait(self._next_round_in()):
            try:
                self.revalidate()
            except Exception:  # never let the thread die: the next round tries again
                logger.exception("prompt portal revalidation failed")

    def _flush_forever(self) -> None:
        while not self._stop.is_set():
            if self._events_failing:  # back off, whatever is waiting
                self._stop.wait(self._backoff(1))
            else:
                self._events.full.wait(self.event_flush_interval)
            if not self._stop.is_set():
                self._send_events()

    def _send_events(self, deadline: float | None = None) -> bool:
        """Send what is buffered, batch by batch; False when the portal could not take it.
        One sender at a time (the flusher thread or `flush`), so a flush returns only once
        the batch another thread had in flight is settled too."""
        wait = -1 if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._sending.acquire(timeout=wait):
            return False
        try:
            while len(self._events) and (deadline is None or time.monotonic() < deadline):
                batch = self._events.take()
                try:
                    answer = self._post(EVENTS_PATH, {"events": batch}, retries=1)
                except (Unreachable, PortalError) as exc:
                    if self._events_failed(batch, exc):
                        return False
                    continue
                except BaseException as exc:  # interrupted: the batch waits in the buffer
                    self._events_failed(batch, exc)
                    raise
                self._events_sent(batch, answer)
            return True
        finally:
            self._sending.release()

    def flush(self, timeout: float = 5.0) -> bool:
        """Send every buffered event now; True when nothing is left."""
        self._send_events(deadline=time.monotonic() + timeout)
        return not len(self._events)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the background threads, sending the buffered events first."""
        self._stop.set()
        self._events.full.set()
        for thread in (self._revalidator, self._flusher):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)
        if not self._closed:
            self.flush(timeout)
        self._closed = True
        self._http.close()
        _live.discard(self)

    def __enter__(self) -> Portal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _forked(self) -> None:
        """In a child process (gunicorn's preload): threads did not survive the fork and the
        connection pool must not be shared; both start afresh."""
        self._threads_afresh()
        self._events.lock = threading.Lock()
        self._events.full = threading.Event()
        if self._store.entries:  # gets from memory never start it: start it here
            self._revalidation_needed()
        if len(self._events):
            self._flusher_needed()


_live: weakref.WeakSet[Portal] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for portal in list(_live):
        portal.close(timeout=2.0)
