"""What a service runs now: resolve a prompt in an environment (or a pinned version), fast.

The hot path reads one cache round trip: the environment's generation and the cached answer.
A deployment change, rollback, deprecation or retirement replaces the generation of the
environments concerned on commit, so the next resolve reads the database again (at most three
queries for a prompt without includes) instead of serving a stale answer until a TTL.
If the cache is down, every resolve answers from the database.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Exists, Q
from django.utils.http import http_date

from portal.cache import (
    cache_add,
    cache_delete,
    cache_get,
    cache_get_many,
    cache_invalidate,
    cache_set,
)
from portal.errors import DomainError, Gone, Invalid, NotFound
from prompts.composition import MAX_INCLUDE_DEPTH, version_includes
from prompts.models import Deployment, Environment, Prompt, PromptVersion
from prompts.rendering import Source, check_variables, render
from teams import permissions
from teams.models import Namespace
from teams.permissions import Principal, ServicePrincipal

CACHE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Resolved:
    body_json: bytes
    etag: str
    headers: dict[str, str]

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.body_json)


def _gen_key(environment: str) -> str:
    return f"resolve:gen:{environment}"


def _entry_key(environment: str, namespace: str, name: str, version: int | None) -> str:
    return f"resolve:{environment}:{namespace}/{name}:{version or 'live'}"


def cache_keys(*, namespace: str, name: str, environment: str, version: int | None) -> list[str]:
    return [_gen_key(environment), _entry_key(environment, namespace, name, version)]


def invalidate(*, environments: list[str] | None = None) -> None:
    """After commit, give the named environments (default: all) a new generation."""
    slugs = environments or list(Environment.objects.values_list("slug", flat=True))

    def bump() -> None:
        for slug in slugs:
            cache_invalidate(_gen_key(slug), uuid.uuid4().hex, None)

    transaction.on_commit(bump)


def _generation(environment: str, cached: str | None) -> tuple[str, bool]:
    """The environment's generation, and whether this call created it."""
    if cached:
        return cached, False
    fresh = uuid.uuid4().hex
    if cache_add(_gen_key(environment), fresh, None):
        return fresh, True
    return cache_get(_gen_key(environment)) or fresh, False


def resolve(
    *, user: Principal, namespace: str, name: str, environment: str, version: int | None = None
) -> Resolved:
    key = _entry_key(environment, namespace, name, version)
    cached = cache_get_many([_gen_key(environment), key])
    generation, created = _generation(environment, cached.get(_gen_key(environment)))
    entry = cached.get(key)
    if not entry or entry["generation"] != generation:
        try:
            entry = _load(user, namespace, name, environment, version)
        except DomainError:
            # Any slug a caller sends (an unknown environment) must not leave a key behind.
            # Dropping a generation is always safe: entries of the old one read as misses.
            if created:
                cache_delete(_gen_key(environment))
            raise
        entry["generation"] = generation
        cache_set(key, entry, CACHE_SECONDS)
    if not _may_read(user, entry["namespace_id"], entry["visibility"]):
        raise NotFound(f"No prompt {namespace}/{name}.")
    if entry.get("gone"):
        raise Gone(entry["gone"]["detail"], code="retired", extensions=entry["gone"]["extra"])
    return _resolved(entry)


def _resolved(entry: dict[str, Any]) -> Resolved:
    return Resolved(body_json=entry["body_json"], etag=entry["etag"], headers=entry["headers"])


def resolve_warm(
    *, token: ServicePrincipal, namespace: str, name: str, environment: str, version: int | None
) -> Resolved | None:
    """The cached answer if it is current and the token may read it; None sends the caller to
    `resolve`, which answers every other case (and the same way)."""
    key = _entry_key(environment, namespace, name, version)
    cached = cache_get_many([_gen_key(environment), key])
    entry = cached.get(key)
    if (
        not entry
        or entry.get("gone")
        or entry["generation"] != cached.get(_gen_key(environment))
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
        raise NotFound(f"{prompt.full_name} is not deployed in {environment}.", code="not_deployed")
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
                code="include_private",
            )
        missing = sorted(pending - set(found))
        if missing:
            raise Invalid(
                f"Included prompts are not deployed in {environment}: {', '.join(missing)}.",
                code="include_not_deployed",
            )
        resolved.update(found)
        pending = set().union(*(version_includes(v) for v in found.values()))
    raise Invalid("Includes nest too deeply.", code="include_depth")


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
