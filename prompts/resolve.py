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

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Exists, Q
from django.utils.http import http_date

from portal import outbox
from portal.errors import ErrorCode, Gone, Invalid, NotFound
from prompts.composition import MAX_INCLUDE_DEPTH, version_includes
from prompts.models import Deployment, Environment, Prompt, PromptVersion, VersionInclude
from prompts.rendering import Source, check_variables, render
from teams import permissions
from teams.models import Namespace
from teams.permissions import Principal, ServicePrincipal


@dataclass(frozen=True)
class Resolved:
    body_json: bytes
    etag: str
    headers: dict[str, str]

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.body_json)


# Part of every key: a Redis kept across an upgrade that changed the entries' shape holds old
# entries under other names, which nobody reads and which expire.
KEY_VERSION = "v2"


def _prompt_gen_key(full_name: str) -> str:
    return f"resolve:{KEY_VERSION}:gen:p:{full_name}"


def _namespace_gen_key(namespace: str) -> str:
    return f"resolve:{KEY_VERSION}:gen:ns:{namespace}"


def _entry_key(environment: str, namespace: str, name: str, version: int | None) -> str:
    return f"resolve:{KEY_VERSION}:{environment}:{namespace}/{name}:{version or 'live'}"


def cache_keys(*, namespace: str, name: str, environment: str, version: int | None) -> list[str]:
    """What a resolve reads, in one round trip: the answer, then its two generations."""
    return [
        _entry_key(environment, namespace, name, version),
        _prompt_gen_key(f"{namespace}/{name}"),
        _namespace_gen_key(namespace),
    ]


# --- Invalidation (inside the writer's transaction; delivered after commit) -------------------


def _with_dependents(prompt_ids: set[int]) -> set[int]:
    """The prompts and, transitively, every prompt one of whose versions includes them."""
    found, frontier = set(prompt_ids), set(prompt_ids)
    for _ in range(MAX_INCLUDE_DEPTH + 1):
        frontier = (
            set(
                VersionInclude.objects.filter(included_id__in=frontier).values_list(
                    "prompt_id", flat=True
                )
            )
            - found
        )
        if not frontier:
            break
        found |= frontier
    return found


def _prompt_keys(prompt_ids: set[int]) -> list[str]:
    names = Prompt.objects.filter(pk__in=prompt_ids).values_list("namespace__slug", "name")
    return [_prompt_gen_key(f"{namespace}/{name}") for namespace, name in names]


def invalidate_prompts(prompts: Iterable[Prompt]) -> None:
    """Cached answers of these prompts, and of the prompts that include them, are stale once
    this transaction commits."""
    outbox.invalidate(*_prompt_keys(_with_dependents({prompt.pk for prompt in prompts})))


def namespace_changed(*, namespace: Namespace, before: dict, after: dict) -> None:
    """Registered as the `teams.hooks.namespace_changed` hook. When the visibility changed,
    the namespace's answers (which carry it) and the answers of prompts elsewhere that
    include its prompts (which may no longer) are stale; its team and description are in no
    answer."""
    if before["visibility"] == after["visibility"]:
        return
    own = set(namespace.prompts.values_list("pk", flat=True))
    outbox.invalidate(
        _namespace_gen_key(namespace.slug), *_prompt_keys(_with_dependents(own) - own)
    )


# --- Reading --------------------------------------------------------------------------------


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
        generations.append(generation)
    return generations


def resolve(
    *,
    user: Principal,
    namespace: str,
    name: str,
    environment: str,
    version: int | None = None,
    cached: dict[str, Any] | None = None,
) -> Resolved:
    """`cached` is what the caller already read at `cache_keys` (the hot path reads them with
    the token in one round trip)."""
    keys = cache_keys(namespace=namespace, name=name, environment=environment, version=version)
    found = cached if cached is not None else cache.get_many(keys)
    generations = _generations(found, keys)
    entry = found.get(keys[0])
    if not entry or generations is None or entry.get("generations") != generations:
        entry = _load(user, namespace, name, environment, version)
        if generations is not None:
            entry["generations"] = generations
            cache.set(keys[0], entry, settings.RESOLVE_CACHE_MAX_AGE)
    if not _may_read(user, entry["namespace_id"], entry["visibility"]):
        raise NotFound(f"No prompt {namespace}/{name}.")
    if entry.get("gone"):
        raise Gone(
            entry["gone"]["detail"], code=ErrorCode.RETIRED, extensions=entry["gone"]["extra"]
        )
    return _resolved(entry)


def _resolved(entry: dict[str, Any]) -> Resolved:
    return Resolved(body_json=entry["body_json"], etag=entry["etag"], headers=entry["headers"])


def resolve_warm(
    *,
    token: ServicePrincipal,
    namespace: str,
    name: str,
    environment: str,
    version: int | None,
    cached: dict[str, Any],
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
    return _resolved(entry)


def _may_read(user: Principal, namespace_id: int, visibility: str) -> bool:
    if isinstance(user, ServicePrincipal):
        return namespace_id in user.namespace_ids
    if not permissions.is_user(user):
        return False
    if user.is_staff or visibility == Namespace.Visibility.INTERNAL:
        return True
    return permissions.namespaces_visible_to(user=user).filter(pk=namespace_id).exists()


def _load(user: Principal, namespace: str, name: str, environment: str, version: int | None):
    """One query on the common path: the deployment (or pinned version) with its prompt.
    Nothing about a prompt the caller may not read is revealed, not even which error applies."""
    prompt, chosen, problem = _find(namespace, name, environment, version)
    if prompt is None or not _may_read(user, prompt.namespace_id, prompt.namespace.visibility):
        raise NotFound(f"No prompt {namespace}/{name}.")
    if problem is not None:
        raise problem
    meta = {"namespace_id": prompt.namespace_id, "visibility": prompt.namespace.visibility}
    successor = prompt.successor.full_name if prompt.successor else None
    if prompt.state == Prompt.State.RETIRED:
        detail = f"{prompt.full_name} is retired." + (f" Use {successor}." if successor else "")
        return {**meta, "gone": {"detail": detail, "extra": {"successor": successor}}}
    if chosen is None:
        raise NotFound(
            f"{prompt.full_name} is not deployed in {environment}.", code=ErrorCode.NOT_DEPLOYED
        )
    includes = _included(chosen, environment, host_namespace_id=prompt.namespace_id)
    body = _body(prompt, chosen, environment, includes)
    body["deprecation"] = _deprecation(prompt, successor)
    body_json = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    etag = f'"{hashlib.sha256(body_json).hexdigest()}"'
    headers = {"ETag": etag, **_deprecation_headers(prompt, successor)}
    return {**meta, "body_json": body_json, "etag": etag, "headers": headers}


def _deprecation_headers(prompt: Prompt, successor: str | None) -> dict[str, str]:
    """RFC 9745 Deprecation, RFC 8594 Sunset, and the successor as a Link."""
    if prompt.state != Prompt.State.DEPRECATED:
        return {}
    headers = {"Deprecation": f"@{int((prompt.deprecated_at or prompt.updated_at).timestamp())}"}
    if prompt.sunset_at:
        headers["Sunset"] = http_date(prompt.sunset_at.timestamp())
    if successor:
        headers["Link"] = f'</api/v1/resolve/{successor}/>; rel="successor-version"'
    return headers


_PROMPT_JOINS = ("prompt__namespace", "prompt__successor__namespace")


def _find(
    namespace: str, name: str, environment: str, number: int | None
) -> tuple[Prompt | None, PromptVersion | None, Exception | None]:
    """The prompt, the version to serve (None: not deployed there) and the error to raise once
    the caller is known to be allowed to read the prompt."""
    environment_exists = Exists(Environment.objects.filter(slug=environment))
    lookup = {"prompt__namespace__slug": namespace, "prompt__name": name}
    if number is not None:
        found = (
            PromptVersion.objects.select_related(*_PROMPT_JOINS)
            .annotate(environment_exists=environment_exists)
            .filter(number=number, **lookup)
            .first()
        )
        if found is not None:
            if not found.environment_exists:
                return found.prompt, found, _unknown_environment(environment)
            return found.prompt, found, None
    else:
        deployment = (
            Deployment.objects.select_related("version", *_PROMPT_JOINS)
            .filter(environment__slug=environment, **lookup)
            .first()
        )
        if deployment is not None:
            return deployment.prompt, deployment.version, None
    prompt = (
        Prompt.objects.select_related("namespace", "successor__namespace")
        .annotate(environment_exists=environment_exists)
        .filter(namespace__slug=namespace, name=name)
        .first()
    )
    if prompt is None:
        return None, None, None
    if number is not None:
        return prompt, None, NotFound(f"{prompt.full_name} has no version {number}.")
    if not prompt.environment_exists:
        return prompt, None, _unknown_environment(environment)
    return prompt, None, None


def _unknown_environment(environment: str) -> Invalid:
    return Invalid.field("environment", f"No environment {environment!r}.")


def _included(
    version: PromptVersion, environment: str, *, host_namespace_id: int
) -> dict[str, PromptVersion]:
    """Every prompt the version includes, transitively, as deployed in the same environment."""
    resolved: dict[str, PromptVersion] = {}
    pending = version_includes(version)
    for _ in range(MAX_INCLUDE_DEPTH):
        pending -= set(resolved)
        if not pending:
            return resolved
        query = Q()
        for full_name in pending:
            namespace, _, name = full_name.partition("/")
            query |= Q(prompt__namespace__slug=namespace, prompt__name=name)
        deployments = {
            d.prompt.full_name: d
            for d in Deployment.objects.filter(query, environment__slug=environment).select_related(
                "version", "prompt__namespace"
            )
        }
        found = {name: deployment.version for name, deployment in deployments.items()}

        private = sorted(
            name
            for name, deployment in deployments.items()
            if deployment.prompt.namespace_id != host_namespace_id
            and deployment.prompt.namespace.visibility != Namespace.Visibility.INTERNAL
        )
        if private:
            raise Invalid(
                f"Included prompts are no longer internal: {', '.join(private)}.",
                code=ErrorCode.INCLUDE_PRIVATE,
            )
        missing = sorted(pending - set(found))
        if missing:
            raise Invalid(
                f"Included prompts are not deployed in {environment}: {', '.join(missing)}.",
                code=ErrorCode.INCLUDE_NOT_DEPLOYED,
            )
        resolved.update(found)
        pending = set().union(*(version_includes(v) for v in found.values()))
    raise Invalid("Includes nest too deeply.", code=ErrorCode.INCLUDE_DEPTH)


def _body(prompt: Prompt, version: PromptVersion, environment: str, includes) -> dict[str, Any]:
    required = set(version.variables)
    for included in includes.values():
        required |= set(included.variables)
    return {
        "prompt": prompt.full_name,
        "version": version.number,
        "sha256": version.sha256,
        "kind": prompt.kind,
        "template": version.template if prompt.kind == Prompt.Kind.TEXT else None,
        "messages": version.messages if prompt.kind == Prompt.Kind.CHAT else None,
        "template_format": version.template_format,
        "variables": version.variables,
        "required_variables": sorted(required),
        "model_config": version.model_config,
        "environment": environment,
        "state": prompt.state,
        "includes": {
            full_name: {
                "version": included.number,
                "sha256": included.sha256,
                "template": included.template,
                "template_format": included.template_format,
                "variables": included.variables,
            }
            for full_name, included in sorted(includes.items())
        },
        "experiment": None,
    }


def _deprecation(prompt: Prompt, successor: str | None) -> dict[str, Any] | None:
    if prompt.state != Prompt.State.DEPRECATED:
        return None
    return {
        "reason": prompt.deprecation_reason,
        "deprecated_at": (prompt.deprecated_at or prompt.updated_at).isoformat(),
        "sunset_at": prompt.sunset_at.isoformat() if prompt.sunset_at else None,
        "successor": successor,
    }


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
        return [
            {"role": message["role"], "content": render(source_of(message["content"]), variables)}
            for message in body["messages"]
        ]
    return render(source_of(body["template"]), variables)
