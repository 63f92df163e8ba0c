"""The client's in-process cache and the batch protocol, without I/O (shared by `Portal` and
`AsyncPortal`).

An entry is what the portal's `POST /api/v1/resolve/batch/` answers for one (prompt,
environment, pinned version): one resolved prompt, or while an experiment runs every arm with
its bucket range, from which `pick` assigns a subject with the portal's own hash. Entries are
replaced whole (one dict assignment), so readers on other threads never see half an update.
A prompt the portal refused (404, 410, 401/403) is dropped and its error remembered for a
moment, so callers get the portal's answer without a request per call.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from promptportal.errors import AccessDenied, PortalError, PromptNotFound, PromptRetired
from promptportal.prompt import ResolvedPrompt

BUCKETS = 10_000
Key = tuple[str, str, int | None]  # (namespace/name, environment, pinned version)


def bucket_of(experiment_id: int, subject: str | None) -> int:
    """The portal's sticky assignment (prompts.resolve.assign): same subject, same arm."""
    if not subject:
        return random.randrange(BUCKETS)
    digest = hashlib.sha256(f"{experiment_id}:{subject}".encode()).hexdigest()
    return int(digest, 16) % BUCKETS


@dataclass(frozen=True, slots=True)
class Entry:
    etag: str
    prompt: ResolvedPrompt | None  # None while an experiment runs
    experiment_id: int | None
    arms: tuple[tuple[int, int, ResolvedPrompt], ...]
    headers: Mapping[str, str]
    raw: Mapping[str, Any]  # the batch item, as a snapshot stores it

    def pick(self, subject: str | None) -> ResolvedPrompt:
        if self.prompt is not None:
            return self.prompt
        bucket = bucket_of(self.experiment_id, subject)
        for lo, hi, prompt in self.arms:
            if lo <= bucket < hi:
                return prompt
        return self.arms[-1][2]


def entry_from_item(item: Mapping[str, Any], *, source: str = "portal") -> Entry:
    experiment = item.get("experiment")
    arms: tuple[tuple[int, int, ResolvedPrompt], ...] = ()
    prompt = None
    if experiment:
        arms = tuple(
            (arm["lo"], arm["hi"], ResolvedPrompt.from_answer(arm["answer"], source=source))
            for arm in experiment["arms"]
        )
    else:
        prompt = ResolvedPrompt.from_answer(item["answer"], source=source)
    return Entry(
        etag=item["etag"],
        prompt=prompt,
        experiment_id=experiment["id"] if experiment else None,
        arms=arms,
        headers=dict(item.get("headers") or {}),
        raw=item,
    )


def error_of(status: int, problem: Mapping[str, Any] | None, what: str) -> PortalError:
    """The exception for a portal's refusal of `what`."""
    detail = (problem or {}).get("detail") or f"The portal answered {status} for {what}."
    if status == 410:
        return PromptRetired(detail, successor=(problem or {}).get("successor"))
    if status in (401, 403):
        return AccessDenied(detail)
    return PromptNotFound(detail)


def key_of(item: Mapping[str, Any]) -> Key:
    return (item["prompt"], item["environment"], item.get("version"))


def request_item(key: Key, etag: str | None) -> dict[str, Any]:
    name, environment, version = key
    item: dict[str, Any] = {"prompt": name, "environment": environment}
    if version is not None:
        item["version"] = version
    if etag is not None:
        item["etag"] = etag
    return item


class Store:
    """Entries by key; the errors the portal answered, remembered briefly so a hot loop does
    not turn into a request per call; and every refusal, kept until the portal serves the
    prompt again, so neither a snapshot nor a fallback can bring a refused prompt back."""

    MAX_ERRORS = 10_000

    def __init__(self, error_memory_seconds: float) -> None:
        self.entries: dict[Key, Entry] = {}
        self.errors: dict[Key, tuple[PortalError, float]] = {}
        self.refused: dict[Key, PortalError] = {}
        self.error_memory_seconds = error_memory_seconds

    def held(self) -> list[dict[str, Any]]:
        """The body items of a revalidation: every cached entry with its ETag."""
        return [request_item(key, entry.etag) for key, entry in list(self.entries.items())]

    def remembered_error(self, key: Key) -> PortalError | None:
        found = self.errors.get(key)
        if found is None:
            return None
        error, until = found
        if time.monotonic() >= until:
            self.errors.pop(key, None)
            return None
        return error

    def refuse(self, key: Key, error: PortalError) -> None:
        self.entries.pop(key, None)
        if len(self.errors) >= self.MAX_ERRORS:
            self.errors.clear()
        self.errors[key] = (error, time.monotonic() + self.error_memory_seconds)
        if len(self.refused) >= self.MAX_ERRORS:
            self.refused.clear()
        self.refused[key] = error

    def refuse_all(self, error: PortalError) -> None:
        """The token itself was refused: nothing it read may be served any longer."""
        for key in list(self.entries):
            self.refuse(key, error)

    def apply(self, answer: Mapping[str, Any]) -> list[Key]:
        """Take a batch answer in; returns the keys it dropped."""
        dropped = []
        for item in answer.get("changed", []):
            key = key_of(item)
            if item["status"] == 200:
                self.entries[key] = entry_from_item(item)
                self.errors.pop(key, None)
                self.refused.pop(key, None)
            else:
                what = f"{key[0]} in {key[1]}"
                self.refuse(key, error_of(item["status"], item.get("problem"), what))
                dropped.append(key)
        return dropped

    def seed(self, items: Iterable[Mapping[str, Any]], *, source: str) -> dict[Key, Entry]:
        """Entries of a snapshot file, by key (not served until the portal fails)."""
        return {key_of(item): entry_from_item(item, source=source) for item in items}
