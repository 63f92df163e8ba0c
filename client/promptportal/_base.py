"""What `Portal` and `AsyncPortal` share: configuration, reading answers, the last-resort
rules when the portal cannot be reached, and event recording. The subclasses only do I/O."""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from promptportal import _events
from promptportal._store import Key, Store, error_of, request_item
from promptportal.errors import AccessDenied, PortalError, PromptUnavailable
from promptportal.prompt import ResolvedPrompt

logger = logging.getLogger("promptportal")

BATCH_PATH = "/api/v1/resolve/batch/"
EVENTS_PATH = "/api/v1/events/"
MAX_BATCH = 1000
SNAPSHOT_FORMAT = "promptportal-snapshot/1"
Fallback = str | list[dict[str, str]]


class Unreachable(Exception):
    """The portal did not answer, or answered 5xx / 429: serve what is known."""


def read_snapshot(path: str | os.PathLike) -> list[dict[str, Any]]:
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
        raise PortalError(f"{path} is not a promptportal snapshot ({SNAPSHOT_FORMAT}).")
    return data["entries"]


class Base:
    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        environment: str = "production",
        *,
        interval: float = 1.0,
        timeout: float = 2.0,
        connect_timeout: float = 1.0,
        retries: int = 2,
        max_backoff: float = 10.0,
        snapshot: str | os.PathLike | None = None,
        fallbacks: Mapping[str, Fallback] | None = None,
        event_batch_size: int = 500,
        event_flush_interval: float = 2.0,
        max_buffered_events: int = 10_000,
    ) -> None:
        base_url = base_url or os.environ.get("PROMPT_PORTAL_URL")
        token = token or os.environ.get("PROMPT_PORTAL_TOKEN")
        if not base_url or not token:
            raise PortalError(
                "Give the portal's base URL and a token (or set PROMPT_PORTAL_URL and "
                "PROMPT_PORTAL_TOKEN)."
            )
        self.base_url = base_url.rstrip("/")
        self.environment = environment
        self.interval = interval
        self.retries = retries
        self.max_backoff = max_backoff
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self.headers = {
            "Authorization": f"Bearer {token}",
            "User-Agent": "promptportal-python/0.1",
        }
        self.fallbacks = dict(fallbacks or {})
        self._store = Store(error_memory_seconds=interval)
        self._snapshot = (
            self._store.seed(read_snapshot(snapshot), source="snapshot") if snapshot else {}
        )
        self._events = _events.Buffer(capacity=max_buffered_events, batch_size=event_batch_size)
        self.event_flush_interval = event_flush_interval
        self._closed = False
        self._failures = 0  # consecutive failed requests: the outage state, one per client
        self._paused_until = 0.0  # misses skip the network until then (an outage's backoff)
        self._outage: Exception | None = None
        self._token_refused: AccessDenied | None = None
        self._events_failing = False

    # --- reading answers ------------------------------------------------------------------

    def _answer(self, response: httpx.Response, what: str) -> dict[str, Any]:
        if response.status_code in (200, 202):
            return response.json()
        if response.status_code >= 500 or response.status_code == 429:
            raise Unreachable(f"{response.status_code} from the portal")
        try:
            problem = response.json()
        except ValueError:
            problem = None
        error = error_of(response.status_code, problem, what)
        if isinstance(error, AccessDenied):
            raise error
        raise PortalError(f"The portal refused the request ({response.status_code}): {problem}")

    # --- decisions shared by Portal and AsyncPortal (they only do the I/O) --------------------

    def _miss_plan(
        self, key: Key, subject: str | None, fallback: Fallback | None
    ) -> tuple[ResolvedPrompt | None, dict[str, Any] | None]:
        """(the answer, None) when a miss is answered without the network: a refusal
        remembered, or an outage in its backoff (one try per backoff, not one per call);
        else (None, the request body)."""
        if self._closed:
            raise PortalError("The client is closed.")
        error = self._store.remembered_error(key)
        if error is not None:
            raise error
        if time.monotonic() < self._paused_until:
            return self._last_resort(key, subject, fallback, self._outage), None
        return None, {"prompts": [request_item(key, None)]}

    def _miss_done(
        self,
        key: Key,
        subject: str | None,
        fallback: Fallback | None,
        answer: Mapping[str, Any] | None = None,
        failure: Exception | None = None,
    ) -> ResolvedPrompt:
        if isinstance(failure, Unreachable):
            self._unreachable(failure)
            return self._last_resort(key, subject, fallback, failure)
        if isinstance(failure, AccessDenied):
            self._token_denied(failure)
            raise failure
        self._reachable(answer)
        self._revalidation_needed()
        entry = self._store.entries.get(key)
        if entry is not None:
            return entry.pick(subject)
        raise self._store.remembered_error(key) or PromptUnavailable(
            f"The portal sent nothing for {key[0]}."
        )

    def _retries_now(self) -> int:
        """A first fetch is retried while the portal answers; during an outage, tried once."""
        return 0 if self._failures else self.retries

    def _prefetch_chunks(self, names: list[str], environment: str | None) -> list[list[Key]]:
        keys = [(name, environment or self.environment, None) for name in names]
        missing = [key for key in keys if key not in self._store.entries]
        return [missing[i : i + MAX_BATCH] for i in range(0, len(missing), MAX_BATCH)]

    def _prefetch_failed(self, keys: list[Key], failure: Exception) -> None:
        """The portal cannot be reached: take the snapshot's copies of what is not refused."""
        if isinstance(failure, AccessDenied):
            self._token_denied(failure)
            raise failure
        self._unreachable(failure)
        for key in keys:
            if key in self._snapshot and key not in self._store.entries and self._may_use_copy(key):
                self._store.entries[key] = self._snapshot[key]
        self._revalidation_needed()

    def _round(self) -> list[dict[str, Any]]:
        """The request bodies of one revalidation round (one per thousand prompts held)."""
        held = self._store.held()
        return [{"prompts": held[i : i + MAX_BATCH]} for i in range(0, len(held), MAX_BATCH)]

    def _round_failed(self, failure: Exception) -> None:
        if isinstance(failure, AccessDenied):
            self._token_denied(failure)
        else:
            self._unreachable(failure)

    def _next_round_in(self) -> float:
        return self._backoff(self._failures) if self._failures else self.interval

    def _may_use_copy(self, key: Key) -> bool:
        """A snapshot's or the code's copy may stand in, unless the portal refused it."""
        return self._token_refused is None and key not in self._store.refused

    def _last_resort(
        self, key: Key, subject: str | None, fallback: Fallback | None, cause: Exception | None
    ) -> ResolvedPrompt:
        """The portal cannot be reached and nothing is cached: a snapshot's copy (kept, so the
        next revalidation refreshes it), else the fallback given in code, else an error. A
        prompt the portal refused stays refused: its error is raised, never a copy served."""
        if not self._may_use_copy(key):
            raise self._token_refused or self._store.refused[key]
        entry = self._snapshot.get(key)
        if entry is not None:
            self._store.entries[key] = entry
            self._revalidation_needed()
            return entry.pick(subject)
        content = fallback if fallback is not None else self.fallbacks.get(key[0])
        if content is not None:
            return ResolvedPrompt.fallback(key[0], key[1], content)
        raise PromptUnavailable(
            f"The portal cannot be reached ({cause}) and no copy of {key[0]} is known."
        ) from cause

    def _unreachable(self, cause: Exception) -> None:
        self._failures += 1
        self._outage = cause
        self._paused_until = time.monotonic() + self._backoff(self._failures)
        if self._failures == 1:
            logger.warning(
                "prompt portal unreachable (%s): serving the last good copies of %d prompts",
                cause,
                len(self._store.entries),
            )

    def _reachable(self, answer: Mapping[str, Any] | None) -> None:
        if self._failures:
            logger.warning("prompt portal reachable again")
        self._failures, self._paused_until, self._outage = 0, 0.0, None
        self._token_refused = None
        for key in self._store.apply(answer or {}):
            logger.warning("prompt %s in %s dropped: %s", key[0], key[1], self._store.refused[key])

    def _token_denied(self, error: AccessDenied) -> None:
        if self._token_refused is None:
            logger.error("prompt portal refused the token: %s; cached prompts dropped", error)
        self._token_refused = error
        self._store.refuse_all(error)

    def _backoff(self, failures: int) -> float:
        """Seconds before the next try: doubling from the interval, capped, with jitter so
        many clients do not come back in step."""
        delay = min(self.max_backoff, self.interval * 2 ** min(failures, 16))
        return delay * random.uniform(0.5, 1.0)

    def _retry_pause(self, attempt: int) -> float:
        return min(0.5, 0.1 * 2**attempt) * random.uniform(0.5, 1.5)

    # --- events ----------------------------------------------------------------------------

    def report(self, prompt: ResolvedPrompt | str, *, latency_ms: float, **fields: Any) -> None:
        """Record one call (latency, tokens, cost, quality, feedback, model…). Never blocks:
        records are sent in the background in batches."""
        self._events.add(_events.event_record(prompt, latency_ms=latency_ms, **fields))
        self._flusher_needed()

    def measure(self, prompt: ResolvedPrompt, **fields: Any) -> _events.Timer:
        """A context manager that reports the call with the latency of its block."""
        return _events.Timer(self.report, prompt, fields)

    @property
    def events_dropped(self) -> int:
        """Records dropped (oldest first) because the buffer was full."""
        return self._events.dropped

    @property
    def events_pending(self) -> int:
        return len(self._events)

    def _events_sent(self, batch: list[dict[str, Any]], answer: Mapping[str, Any]) -> None:
        if self._events_failing:
            self._events_failing = False
            logger.warning("call events are sent again")
        self._events.sent += answer.get("accepted", 0) + answer.get("duplicates", 0)
        if answer.get("rejected"):
            logger.warning("the portal rejected call events: %s", answer["rejected"][:3])

    def _events_failed(self, batch: list[dict[str, Any]], failure: BaseException) -> bool:
        """True when the batch waits for another try (the portal could not take it now);
        False when sending it again cannot help (the portal refused it as malformed)."""
        if isinstance(failure, PortalError) and not isinstance(failure, AccessDenied):
            logger.error("the portal refused %d call events: %s", len(batch), failure)
            return False
        self._events.put_back(batch)
        if not self._events_failing and isinstance(failure, Exception):  # not a cancellation
            self._events_failing = True
            logger.warning("call events not sent (%s); %d waiting", failure, len(self._events))
        return True

    def _flusher_needed(self) -> None:
        raise NotImplementedError

    def _revalidation_needed(self) -> None:
        raise NotImplementedError
