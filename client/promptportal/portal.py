"""`Portal`: the synchronous client. A cached `get` is a dict lookup; one background thread
revalidates every cached prompt in one request per interval; another sends call events."""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
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


class Portal(Base):
    """`Portal(base_url, token, environment="production")`, or from PROMPT_PORTAL_URL and
    PROMPT_PORTAL_TOKEN. See the package's README for the freshness and outage rules."""

    def __init__(self, *args: Any, transport: httpx.BaseTransport | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._transport = transport
        self._http = self._client()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._revalidator: threading.Thread | None = None
        self._flusher: threading.Thread | None = None
        _live.add(self)
        if hasattr(os, "register_at_fork"):
            me = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: (p := me()) and p._forked())

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers=self.headers,
            timeout=self.timeout,
            transport=self._transport,
        )

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
        error = self._store.remembered_error(key)
        if error is not None:
            raise error
        try:
            body = {"prompts": [request_item(key, None)]}
            answer = self._post(BATCH_PATH, body, self.retries, what=key[0])
        except Unreachable as exc:
            return self._last_resort(key, subject, fallback, exc)
        except AccessDenied as exc:
            self._store.refuse(key, exc)
            raise
        self._note_success()
        self._apply(answer)
        self._revalidation_needed()
        return self._found(key, subject)

    def prefetch(self, names: list[str], *, environment: str | None = None) -> None:
        """Fetch prompts before they are needed (a service starting up), in one request per
        thousand. If the portal cannot be reached, a snapshot's copies are taken instead;
        what the portal refused is raised by `get`."""
        keys = [(name, environment or self.environment, None) for name in names]
        missing = [key for key in keys if key not in self._store.entries]
        for i in range(0, len(missing), MAX_BATCH):
            chunk = [request_item(key, None) for key in missing[i : i + MAX_BATCH]]
            try:
                answer = self._post(BATCH_PATH, {"prompts": chunk}, self.retries)
            except Unreachable as exc:
                self._from_snapshot(missing[i:], exc)
                return
            self._apply(answer)
        self._note_success()
        self._revalidation_needed()

    def revalidate(self) -> None:
        """One revalidation round now (the background thread calls this every interval)."""
        for chunk in self._chunks():
            try:
                answer = self._post(BATCH_PATH, {"prompts": chunk}, retries=0)
            except AccessDenied as exc:
                self._refused(exc)
                return
            self._apply(answer)
        self._note_success()

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

    def _start(self, *, revalidator: bool = False, flusher: bool = False) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            if revalidator and self._revalidator is None:
                self._revalidator = self._thread(self._revalidate_forever, "revalidate")
            if flusher and self._flusher is None:
                self._flusher = self._thread(self._flush_forever, "events")

    def _thread(self, target, what: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=f"promptportal-{what}", daemon=True)
        thread.start()
        return thread

    def _revalidate_forever(self) -> None:
        failures = 0
        while not self._stop.wait(self._backoff(failures) if failures else self.interval):
            try:
                self.revalidate()
                failures = 0
            except Unreachable as exc:
                failures += 1
                self._note_failure(exc)
            except Exception:  # never let the thread die: the next round tries again
                failures += 1
                logger.exception("prompt portal revalidation failed")

    def _revalidation_needed(self) -> None:
        self._start(revalidator=True)

    def _flusher_needed(self) -> None:
        if self._flusher is None:
            self._start(flusher=True)

    def _flush_forever(self) -> None:
        failures = 0
        while not self._stop.is_set():
            delay = self._backoff(failures) if failures else self.event_flush_interval
            self._events.full.wait(delay)
            if self._stop.is_set():
                return
            failures = 0 if self._send_events() else failures + 1

    def _send_events(self, deadline: float | None = None) -> bool:
        """Send what is buffered, batch by batch; False when the portal could not take it."""
        while len(self._events) and (deadline is None or time.monotonic() < deadline):
            batch = self._events.take()
            try:
                answer = self._post(EVENTS_PATH, {"events": batch}, retries=1)
            except (Unreachable, AccessDenied) as exc:
                self._events.put_back(batch)
                logger.warning("call events not sent (%s); %d waiting", exc, len(self._events))
                return False
            except PortalError as exc:  # a malformed batch: sending it again cannot help
                logger.error("the portal refused %d call events: %s", len(batch), exc)
                continue
            self._events.sent += answer.get("accepted", 0) + answer.get("duplicates", 0)
            if answer.get("rejected"):
                logger.warning("the portal rejected call events: %s", answer["rejected"][:3])
        return True

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
        self.flush(timeout)
        self._http.close()
        _live.discard(self)

    def __enter__(self) -> Portal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _forked(self) -> None:
        """In a child process (gunicorn's preload): threads did not survive the fork and
        the connection pool must not be shared; both start afresh."""
        self._lock = threading.Lock()
        self._events.lock = threading.Lock()
        self._revalidator = self._flusher = None
        self._http = self._client()
        if self._store.entries:  # gets from memory never start it: start it here
            self._start(revalidator=True)
        if len(self._events):
            self._start(flusher=True)


_live: weakref.WeakSet[Portal] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for portal in list(_live):
        portal.close(timeout=2.0)
