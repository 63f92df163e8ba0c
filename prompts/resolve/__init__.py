"""What a service runs now: resolve a prompt in an environment (or a pinned version), fast.

A warm resolve is one Redis round trip: one MGET of the cached answer and the two
generations it was computed under, the prompt's and its namespace's (plus, on the hot path,
the token's lookup). A change replaces what it affects through the outbox after commit: a
deployment, a rollback or a lifecycle change deletes the prompt's generation and those of the
prompts that include it; a visibility change the namespace's. The next resolve then finds its
answer's generations gone, reads the database (at most three queries for a prompt without
includes) and caches the new answer. Readers create a missing generation before they read the
database, so an answer read before a change can never be cached under a generation created
after it. Answers and generations live at most `RESOLVE_CACHE_MAX_AGE`. If Redis is down or
slow, resolve answers from the database.
"""

import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from portal.errors import ErrorCode, Gone, Invalid, NotFound
from prompts.models import Prompt
from prompts.rendering import Source, check_variables, render_all
from prompts.resolve import assign, counts
from prompts.resolve.answers import load, may_read
from prompts.resolve.keys import cache_keys, invalidate_prompts, namespace_changed
from teams.permissions import Principal, ServicePrincipal

__all__ = ["cache_keys", "invalidate_prompts", "namespace_changed"]


@dataclass(frozen=True)
class Resolved:
    body_json: bytes
    etag: str
    headers: dict[str, str]

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.body_json)


def _generations(found: dict[str, Any], keys: list[str]) -> list[str] | None:
    """The current generations for `keys[1:]`, creating missing ones (before the database is
    read). None when the cache did not answer: then nothing is cached."""
    generations = []
    for key in keys[1:]:
        generation = found.get(key)
        if generation is None:
            fresh = uuid.uuid4().hex
            added = cache.add(key, fresh, settings.RESOLVE_CACHE_MAX_AGE)
            if added is None:  # the cache failed
                return None
            generation = fresh if added else cache.get(key)
            if generation is None:
                return None
            found[key] = generation
        generations.append(generation)
    return generations


def resolve(
    *,
    user: Principal,
    namespace: str,
    name: str,
    environment: str,
    version: int | None = None,
    subject: str | None = None,
    cached: dict[str, Any] | None = None,
) -> Resolved:
    """`cached` is what the caller already read at `cache_keys` (the hot path reads them with
    the token in one round trip)."""
    keys = cache_keys(namespace=namespace, name=name, environment=environment, version=version)
    found = cached if cached is not None else cache.get_many(keys)
    entry = current_entry(
        user=user,
        namespace=namespace,
        name=name,
        environment=environment,
        version=version,
        found=found,
    )
    count_deprecated(entry, namespace, name, environment, user)
    return _resolved(entry, subject)


def current_entry(
    *,
    user: Principal,
    namespace: str,
    name: str,
    environment: str,
    version: int | None,
    found: dict[str, Any],
) -> dict[str, Any]:
    """The current cached entry (every arm's answer while an experiment runs), loaded and
    cached when missing or stale. `found` is what the caller read at `cache_keys`; generations
    this call creates are written back into it, so prompts sharing a namespace (a batch) create
    it once. Raises NotFound (also for a prompt the caller may not read) and Gone."""
    keys = cache_keys(namespace=namespace, name=name, environment=environment, version=version)
    generations = _generations(found, keys)
    entry = found.get(keys[0])
    if not entry or generations is None or entry.get("generations") != generations:
        entry = load(user, namespace, name, environment, version)
        if generations is not None:
            entry["generations"] = generations
            cache.set(keys[0], entry, settings.RESOLVE_CACHE_MAX_AGE)
            found[keys[0]] = entry
    if not may_read(user, entry["namespace_id"], entry["visibility"]):
        raise NotFound(f"No prompt {namespace}/{name}.")
    if entry.get("gone"):
        raise Gone(
            entry["gone"]["detail"], code=ErrorCode.RETIRED, extensions=entry["gone"]["extra"]
        )
    return entry


def count_deprecated(
    entry: dict[str, Any], namespace: str, name: str, environment: str, user: Principal
) -> None:
    """Deprecated prompts' resolves are counted (in Redis, best effort): who still calls them."""
    if "Deprecation" in entry["headers"]:
        caller = user.name if isinstance(user, ServicePrincipal) else ""
        counts.note(namespace=namespace, name=name, environment=environment, caller=caller)


def _resolved(entry: dict[str, Any], subject: str | None) -> Resolved:
    """The answer, or while an experiment runs the subject's arm's answer (its own ETag)."""
    experiment = entry.get("experiment")
    if not experiment:
        return Resolved(body_json=entry["body_json"], etag=entry["etag"], headers=entry["headers"])
    arm = assign.pick(experiment["arms"], assign.bucket_of(experiment["id"], subject))
    return Resolved(
        body_json=arm["body_json"],
        etag=arm["etag"],
        headers={**entry["headers"], "ETag": arm["etag"]},
    )


def resolve_warm(
    *,
    token: ServicePrincipal,
    namespace: str,
    name: str,
    environment: str,
    version: int | None,
    cached: dict[str, Any],
    subject: str | None = None,
) -> Resolved | None:
    """The cached answer if it is current and the token may read it; None sends the caller to
    `resolve`, which answers every other case (and the same way)."""
    keys = cache_keys(namespace=namespace, name=name, environment=environment, version=version)
    entry = cached.get(keys[0])
    if (
        not entry
        or entry.get("gone")
        or entry.get("generations") != [cached.get(keys[1]), cached.get(keys[2])]
        or entry["namespace_id"] not in token.namespace_ids
    ):
        return None
    count_deprecated(entry, namespace, name, environment, token)
    return _resolved(entry, subject)


def render_resolved(resolved: Resolved, variables: dict[str, Any]) -> str | list[dict[str, str]]:
    """The resolved prompt with `variables` filled in: text, or the chat messages."""
    body = resolved.body
    if not isinstance(variables, dict):
        raise Invalid.field("variables", "Variables must be a JSON object of name → value.")
    check_variables(declared=set(body["required_variables"]), given=variables)
    includes = {
        name: Source(
            template_format=item["template_format"], template=item["template"], includes={}
        )
        for name, item in body["includes"].items()
    }
    for source in includes.values():
        source.includes = includes

    def source_of(text: str) -> Source:
        return Source(template_format=body["template_format"], template=text, includes=includes)

    if body["kind"] == Prompt.Kind.CHAT:
        contents = render_all([source_of(m["content"]) for m in body["messages"]], variables)
        return [
            {"role": message["role"], "content": content}
            for message, content in zip(body["messages"], contents, strict=True)
        ]
    (text,) = render_all([source_of(body["template"])], variables)
    return text
