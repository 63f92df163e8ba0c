"""Call events, buffered for `POST /api/v1/events/` (shared by `Portal` and `AsyncPortal`).

The buffer is bounded: when the portal is unreachable for long, the oldest records go first and
are counted (`dropped`), and recording never blocks the caller. Each record carries its own
idempotency key, so a batch re-sent after a timeout is counted once by the portal.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import deque
from typing import Any

from promptportal.prompt import ResolvedPrompt

MAX_BATCH = 1000  # the portal's limit per request


def event_record(
    prompt: ResolvedPrompt | str,
    *,
    latency_ms: float,
    version: int | None = None,
    environment: str | None = None,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cost_usd: float = 0.0,
    quality_score: float | None = None,
    feedback: int | None = None,
    error: bool = False,
    model: str | None = None,
    subject: str | None = None,
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """One call as the portal's events API takes it. With a ResolvedPrompt, its name,
    version, environment, experiment arm and model come from it."""
    record: dict[str, Any] = {
        "latency_ms": float(latency_ms),
        "input_tokens": int(input_tokens),
        "output_tokens": int(output_tokens),
        "cost_usd": float(cost_usd),
        "error": bool(error),
        "idempotency_key": idempotency_key or uuid.uuid4().hex,
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    if isinstance(prompt, ResolvedPrompt):
        if prompt.version is None:
            raise ValueError("A fallback prompt given in code has no version to report.")
        record.update(prompt=prompt.name, version=prompt.version, environment=prompt.environment)
        if prompt.experiment:
            record.update(experiment=prompt.experiment["id"], arm=prompt.experiment["arm"])
        model = model or prompt.model_config.get("model")
    else:
        if version is None or environment is None:
            raise ValueError("Reporting by name needs the version and the environment.")
        record.update(prompt=prompt, version=int(version), environment=environment)
    optional = {
        "quality_score": quality_score,
        "feedback": feedback,
        "model": model,
        "subject": subject,
        "metadata": metadata,
    }
    record.update({name: value for name, value in optional.items() if value is not None})
    return record


class Buffer:
    """Records waiting to be sent; thread-safe, bounded, oldest dropped first."""

    def __init__(self, *, capacity: int, batch_size: int) -> None:
        self.records: deque[dict[str, Any]] = deque()
        self.capacity = capacity
        self.batch_size = min(batch_size, MAX_BATCH)
        self.dropped = 0
        self.sent = 0
        self.lock = threading.Lock()
        self.full = threading.Event()  # a batch is ready: the flusher need not wait its interval

    def add(self, record: dict[str, Any]) -> None:
        with self.lock:
            if len(self.records) >= self.capacity:
                self.records.popleft()
                self.dropped += 1
            self.records.append(record)
            if len(self.records) >= self.batch_size:
                self.full.set()

    def take(self) -> list[dict[str, Any]]:
        with self.lock:
            count = min(self.batch_size, len(self.records))
            batch = [self.records.popleft() for _ in range(count)]
            if len(self.records) < self.batch_size:
                self.full.clear()
            return batch

    def put_back(self, batch: list[dict[str, Any]]) -> None:
        """A batch that could not be sent goes back in front (the oldest still go first)."""
        with self.lock:
            room = self.capacity - len(self.records)
            keep = batch[-room:] if room > 0 else []
            self.dropped += len(batch) - len(keep)
            self.records.extendleft(reversed(keep))

    def __len__(self) -> int:
        return len(self.records)


class Timer:
    """Measures a call: `with portal.measure(prompt) as call: … call.output_tokens = 12`.
    On exit the latency is taken and the call reported (as an error if the block raised)."""

    def __init__(self, report, prompt: ResolvedPrompt, fields: dict[str, Any]) -> None:
        self._report = report
        self.prompt = prompt
        self.fields = fields
        self.input_tokens = fields.pop("input_tokens", 0)
        self.output_tokens = fields.pop("output_tokens", 0)
        self.cost_usd = fields.pop("cost_usd", 0.0)
        self.quality_score = fields.pop("quality_score", None)
        self.feedback = fields.pop("feedback", None)
        self.model = fields.pop("model", None)
        self.metadata = fields.pop("metadata", None)
        self.latency_ms: float | None = None

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.latency_ms = (time.perf_counter() - self._start) * 1000
        self._report(
            self.prompt,
            latency_ms=self.latency_ms,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost_usd=self.cost_usd,
            quality_score=self.quality_score,
            feedback=self.feedback,
            model=self.model,
            metadata=self.metadata,
            error=exc_type is not None,
            **self.fields,
        )
