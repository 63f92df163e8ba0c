"""Batch revalidation: what the client SDK asks once per interval for every prompt it holds.

The client sends each prompt it caches (name, environment, pinned version or none) with the
entry ETag it holds; the answer lists only the entries whose ETag changed, plus the errors
(a prompt retired, gone from the environment, or no longer visible to the caller), so the
cost of an interval with nothing new is one MGET and a comparison per prompt.

An entry is what the server itself caches: one answer, or while an experiment runs every arm's
answer with its bucket range, so the client assigns arms with the server's own hash
(prompts.resolve.assign) and a sticky assignment costs no request. Its ETag is the answer's,
or for an experiment a hash over the arms' ETags and ranges.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from portal.errors import DomainError
from prompts.resolve import cache_keys, count_deprecated, current_entry
from teams.permissions import Principal

MAX_PROMPTS = 1000


@dataclass(frozen=True)
class Held:
    """One prompt a client holds, and the entry ETag it holds for it (None: nothing yet)."""

    namespace: str
    name: str
    environment: str
    version: int | None
    etag: str | None


@dataclass(frozen=True)
class Changed:
    """A prompt whose entry differs from what the client holds: its entry, or the error that
    now answers for it (the client drops its copy)."""

    held: Held
    entry: dict[str, Any] | None
    error: DomainError | None


def entry_etag(entry: dict[str, Any]) -> str:
    experiment = entry.get("experiment")
    if not experiment:
        return entry["etag"]
    parts = [str(experiment["id"])]
    parts += [f"{arm['arm']}:{arm['lo']}:{arm['hi']}:{arm['etag']}" for arm in experiment["arms"]]
    return '"' + hashlib.sha256("|".join(parts).encode()).hexdigest() + '"'


def resolve_batch(*, user: Principal, held: Sequence[Held]) -> tuple[list[Changed], int]:
    """(what changed, how many are unchanged). One cache round trip for every entry and
    generation on a warm cache; an entry that is missing or stale is loaded as `resolve` does."""
    keys = {
        item: cache_keys(
            namespace=item.namespace,
            name=item.name,
            environment=item.environment,
            version=item.version,
        )
        for item in held
    }
    found = cache.get_many(list({key for item_keys in keys.values() for key in item_keys}))
    changed, unchanged = [], 0
    for item in held:
        try:
            entry = current_entry(
                user=user,
                namespace=item.namespace,
                name=item.name,
                environment=item.environment,
                version=item.version,
                found=found,
            )
        except DomainError as error:
            changed.append(Changed(held=item, entry=None, error=error))
            continue
        if entry_etag(entry) == item.etag:
            unchanged += 1
            continue
        if item.etag is None:  # a client's first fetch counts as a call of a deprecated prompt
            count_deprecated(entry, item.namespace, item.name, item.environment, user)
        changed.append(Changed(held=item, entry=entry, error=None))
    return changed, unchanged
