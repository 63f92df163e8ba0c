"""What `Portal` and `AsyncPortal` share: configuration, reading answers, the last-resort
rules when the portal cannot be reached, and event recording. The subclasses only do I/O."""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from promptportal import _events
from promptportal._store import Key, Store, error_of
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
        self._failing = False

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

    def _found(self, key: Key, subject: str | None) -> ResolvedPrompt:
        entry = self._store.entries.get(key)
        if entry is not None:
            return entry.pick(subject)
        error = self._store.remembered_error(key)
        raise error or PromptUnavailable(f"The portal sent nothing for {key[0]}.")

    def _last_resort(
        self, key: Key, subject: str | None, fallback: Fallback | None, cause: Exception
    ) -> ResolvedPrompt:
        """The portal cannot be reached and nothing is cached: a snapshot's copy (kept, so the
        next revalidation refreshes it), else the fallback given in code, else an error."""
        self._note_failure(cause)
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

    def _from_snapshot(self, keys: list[Key], cause: Exception) -> None:
        self._note_failure(cause)
        for key in keys:
            if key in self._snapshot and key not in self._store.entries:
                self._store.entries[key] = self._snapshot[key]
        self._revalidation_needed()

    def _note_failure(self, cause: Exception) -> None:
        if not self._failing:
            self._failing = True
            logger.warning(
                "prompt portal unreachable (%s): serving the last good copies of %d prompts",
                cause,
                len(self._store.entries),
            )

    def _note_success(self) -> None:
        if self._failing:
            self._failing = False
            logger.warning("prompt portal reachable again")

    def _backoff(self, failures: int) -> float:
        """Seconds before the next try: doubling from the interval, capped, with jitter so
        many clients do not come back in step."""
        delay = min(self.max_backoff, self.interval * 2 ** min(failures, 16))
        return delay * random.uniform(0.5, 1.0)

    def _retry_pause(self, attempt: int) -> float:
        return min(0.5, 0.1 * 2**attempt) * random.uniform(0.5, 1.5)

    def _chunks(self) -> list[list[dict[str, Any]]]:
        held = self._store.held()
        return [held[i : i + MAX_BATCH] for i in range(0, len(held), MAX_BATCH)]

    def _apply(self, answer: Mapping[str, Any]) -> None:
        for key in self._store.apply(answer):
            logger.warning(
                "prompt %s in %s dropped: %s", key[0], key[1], self._store.errors[key][0]
            )

    def _refused(self, error: AccessDenied) -> None:
        self._store.refuse_all(error)
        logger.error("prompt portal refused the token: %s; cached prompts dropped", error)

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

    def _flusher_needed(self) -> None:
        raise NotImplementedError

    def _revalidation_needed(self) -> None:
        raise NotImplementedError
