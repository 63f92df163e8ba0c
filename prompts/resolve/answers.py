"""Building a resolve answer from the database: who may read it, which version runs, its
includes as deployed in the same environment, the body and its headers."""

import hashlib
import json
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils.http import http_date

from portal.errors import ErrorCode, Invalid, NotFound
from prompts.composition import MAX_INCLUDE_DEPTH, version_includes
from prompts.models import (
    Deployment,
    Environment,
    Experiment,
    ExperimentArm,
    Prompt,
    PromptVersion,
)
from prompts.resolve import assign
from teams import permissions
from teams.models import Namespace
from teams.permissions import Principal, ServicePrincipal


def may_read(user: Principal, namespace_id: int, visibility: str) -> bool:
    if not permissions.within_limit(user, namespace_id):  # a token limited to namespaces
        return False
    if isinstance(user, ServicePrincipal):
        return namespace_id in user.namespace_ids
    if not permissions.is_user(user):
        return False
    if user.is_staff or visibility == Namespace.Visibility.INTERNAL:
        return True
    return permissions.namespaces_visible_to(user=user).filter(pk=namespace_id).exists()


def load(user: Principal, namespace: str, name: str, environment: str, version: int | None):
    """One query on the common path: the deployment (or pinned version) with its prompt.
    Nothing about a prompt the caller may not read is revealed, not even which error applies."""
    prompt, chosen, problem, experimenting = _find(namespace, name, environment, version)
    if prompt is None or not may_read(user, prompt.namespace_id, prompt.namespace.visibility):
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
    deprecation = _deprecation(prompt, successor)
    body_json, etag = _answer(prompt, chosen, environment, deprecation)
    headers = {"ETag": etag, **_deprecation_headers(prompt, successor)}
    entry = {**meta, "body_json": body_json, "etag": etag, "headers": headers}
    if experimenting:
        entry["experiment"] = _experiment(prompt, environment, deprecation)
    return entry


def _answer(
    prompt: Prompt,
    version: PromptVersion,
    environment: str,
    deprecation: dict | None,
    experiment: dict | None = None,
) -> tuple[bytes, str]:
    includes = _included(version, environment, host_namespace_id=prompt.namespace_id)
    body = _body(prompt, version, environment, includes)
    body["deprecation"] = deprecation
    body["experiment"] = experiment
    body_json = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return body_json, f'"{hashlib.sha256(body_json).hexdigest()}"'


def _experiment(prompt: Prompt, environment: str, deprecation: dict | None) -> dict | None:
    """The running experiment's arms, each with its own answer (and so its own ETag): what is
    cached is per arm, never per subject."""
    arms = list(
        ExperimentArm.objects.select_related("version")
        .filter(
            experiment__prompt=prompt,
            experiment__environment__slug=environment,
            experiment__state=Experiment.State.RUNNING,
        )
        .order_by("label")
    )
    if not arms:
        return None
    experiment_id = arms[0].experiment_id
    answers = []
    for arm, (lo, hi) in zip(arms, assign.arm_ranges([a.weight for a in arms]), strict=True):
        about = {"id": experiment_id, "arm": arm.label, "version": arm.version.number}
        body_json, etag = _answer(prompt, arm.version, environment, deprecation, about)
        answers.append({"arm": arm.label, "lo": lo, "hi": hi, "body_json": body_json, "etag": etag})
    return {"id": experiment_id, "arms": answers}


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
) -> tuple[Prompt | None, PromptVersion | None, Exception | None, bool]:
    """The prompt, the version to serve (None: not deployed there), the error to raise once
    the caller is known to be allowed to read the prompt, and whether an experiment splits
    the deployment (asked in the same query)."""
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
                return found.prompt, found, _unknown_environment(environment), False
            return found.prompt, found, None, False
    else:
        running = Experiment.objects.filter(
            prompt=OuterRef("prompt"),
            environment=OuterRef("environment"),
            state=Experiment.State.RUNNING,
        )
        deployment = (
            Deployment.objects.select_related("version", *_PROMPT_JOINS)
            .annotate(experimenting=Exists(running))
            .filter(environment__slug=environment, **lookup)
            .first()
        )
        if deployment is not None:
            return deployment.prompt, deployment.version, None, deployment.experimenting
    prompt = (
        Prompt.objects.select_related("namespace", "successor__namespace")
        .annotate(environment_exists=environment_exists)
        .filter(namespace__slug=namespace, name=name)
        .first()
    )
    if prompt is None:
        return None, None, None, False
    if number is not None:
        return prompt, None, NotFound(f"{prompt.full_name} has no version {number}."), False
    if not prompt.environment_exists:
        return prompt, None, _unknown_environment(environment), False
    return prompt, None, None, False


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
