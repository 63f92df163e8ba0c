"""Writes with business rules for prompts, versions and deployments."""

import dataclasses
import itertools
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.audit.services import audit
from portal.errors import Conflict, ErrorCode, Invalid
from portal.transactions import atomic_write
from portal.validation import clean_or_invalid, conflict_on_integrity_error
from portal.validators import SLUG_HELP, slug_validator
from prompts import experiments
from prompts import resolve as resolve_cache
from prompts.composition import check_includes
from prompts.content import build_content
from prompts.models import (
    ENVIRONMENT_SETTINGS,
    Deployment,
    Environment,
    Experiment,
    Prompt,
    PromptVersion,
    Tag,
    VersionInclude,
)
from teams import permissions
from teams.models import Namespace
from teams.permissions import Principal, require


def _require_edit(actor: Principal, namespace: Namespace) -> None:
    require(
        permissions.can_edit_prompts(actor, namespace),
        f"Only maintainers and owners of {namespace.team.slug} edit prompts in {namespace.slug}.",
    )


MAX_TAGS = 20
MAX_TAG_CHARS = 50
MAX_TAG_ENTRIES = 200  # repeats included: a longer list is refused unread


def _tag_slugs(names: Iterable[str]) -> list[str]:
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise Invalid.field("tags", "Tags must be a list of slugs.")
    names = list(itertools.islice(names, MAX_TAG_ENTRIES + 1))
    if not all(isinstance(name, str) for name in names):
        raise Invalid.field("tags", "Tags must be a list of slugs.")
    slugs = sorted(set(names))
    if len(slugs) > MAX_TAGS or len(names) > MAX_TAG_ENTRIES:
        raise Invalid.field(
            "tags", f"A prompt has at most {MAX_TAGS} tags.", code=ErrorCode.TOO_LARGE
        )
    for slug in slugs:
        if len(slug) > MAX_TAG_CHARS:
            raise Invalid.field(
                "tags", f"Tags are at most {MAX_TAG_CHARS} characters.", code=ErrorCode.TOO_LARGE
            )
        try:
            slug_validator(slug)
        except ValidationError as exc:
            raise Invalid.field("tags", f"Invalid tag {slug!r}: {SLUG_HELP}") from exc
    return slugs


def _set_tags(prompt: Prompt, slugs: list[str], old: list[str]) -> None:
    """Give `prompt` exactly these tags, creating the new ones and deleting the dropped ones
    no prompt uses any more. Every tag involved is locked first, in slug order (the order
    every tag writer takes), so a concurrent clean-up never deletes a tag being attached."""
    dropped = sorted(set(old) - set(slugs))
    involved = sorted(set(slugs) | set(dropped))
    rows = {
        tag.slug: tag
        for tag in Tag.objects.select_for_update().filter(slug__in=involved).order_by("slug")
    }
    missing = [slug for slug in slugs if slug not in rows]
    if missing:
        Tag.objects.bulk_create([Tag(slug=slug) for slug in missing], ignore_conflicts=True)
        rows |= {
            tag.slug: tag
            for tag in Tag.objects.select_for_update().filter(slug__in=missing).order_by("slug")
        }
    prompt.tags.set([rows[slug] for slug in slugs if slug in rows])
    if dropped:
        Tag.objects.filter(
            pk__in=[rows[slug].pk for slug in dropped if slug in rows], prompts__isnull=True
        ).delete()


@atomic_write
def prompt_create(
    *,
    actor: Principal,
    namespace: Namespace,
    name: str,
    kind: str = Prompt.Kind.TEXT,
    description: str = "",
    tags: Iterable[str] = (),
) -> Prompt:
    _require_edit(actor, namespace)
    prompt = Prompt(namespace=namespace, name=name, kind=kind, description=description)
    clean_or_invalid(prompt)
    slugs = _tag_slugs(tags)
    with conflict_on_integrity_error(f"The prompt {namespace.slug}/{name} already exists."):
        prompt.save()
    _set_tags(prompt, slugs, [])
    audit(
        actor=actor,
        action="prompt.created",
        object_type="prompt",
        object_id=prompt.full_name,
        namespace=namespace.slug,
        after=_prompt_state(prompt, slugs),
    )
    return prompt


def _prompt_state(prompt: Prompt, tags: list[str]) -> dict:
    return {
        "kind": prompt.kind,
        "description": prompt.description,
        "tags": tags,
        "state": prompt.state,
    }


@atomic_write
def prompt_update(
    *,
    actor: Principal,
    prompt: Prompt,
    description: str | None = None,
    tags: Iterable[str] | None = None,
) -> Prompt:
    """Change what describes a prompt; its content only changes through new versions."""
    prompt = (
        Prompt.objects.select_for_update(of=("self",))
        .select_related("namespace__team")
        .get(pk=prompt.pk)
    )
    _require_edit(actor, prompt.namespace)
    old_tags = sorted(prompt.tags.values_list("slug", flat=True))
    before = _prompt_state(prompt, old_tags)
    if description is not None:
        prompt.description = description
        clean_or_invalid(prompt)
        prompt.save()
    new_tags = old_tags
    if tags is not None:
        new_tags = _tag_slugs(tags)
        _set_tags(prompt, new_tags, old_tags)
    audit(
        actor=actor,
        action="prompt.changed",
        object_type="prompt",
        object_id=prompt.full_name,
        namespace=prompt.namespace.slug,
        before=before,
        after=_prompt_state(prompt, new_tags),
    )
    return prompt


@atomic_write
def version_create(
    *,
    prompt: Prompt,
    author: AbstractBaseUser,
    template: str | None = None,
    messages: Any = None,
    template_format: str = PromptVersion.TemplateFormat.MUSTACHE,
    variables: Any = None,
    model_config: Any = None,
    message: str = "",
) -> PromptVersion:
    """Append the next version. Concurrent callers are serialized on the prompt's row lock,
    so numbers are allocated 1, 2, 3 … without gaps, duplicates or errors.

    `model_config=None` (not given) keeps the parent version's model configuration;
    `{}` clears it."""
    content = build_content(
        kind=prompt.kind,
        template=template,
        messages=messages,
        template_format=template_format,
        variables=variables,
        model_config=model_config,
    )
    if not isinstance(message, str):
        raise Invalid.field("message", "The message must be text.")
    locked = (
        Prompt.objects.select_for_update(of=("self",))
        .select_related("namespace__team")
        .get(pk=prompt.pk)
    )
    _require_edit(author, locked.namespace)
    included = check_includes(prompt=locked, content=content, author=author)
    if locked.state == Prompt.State.RETIRED:
        raise Conflict(
            f"{prompt.full_name} is retired; reactivate it first.", code=ErrorCode.RETIRED
        )
    parent = PromptVersion.objects.filter(prompt=locked).order_by("-number").first()
    if model_config is None and parent is not None and parent.model_config:
        # Inherited: the parent's configuration was validated when it was written.
        content = dataclasses.replace(content, model_config=dict(parent.model_config))
    if parent is not None and parent.sha256 == content.sha256:
        raise Conflict(
            f"This content is identical to version {parent.number}; nothing to version.",
            code=ErrorCode.UNCHANGED,
        )
    version = PromptVersion.objects.create(
        prompt=locked,
        number=(parent.number + 1) if parent else 1,
        template=content.template,
        messages=content.messages,
        template_format=content.template_format,
        variables=content.variables,
        model_config=content.model_config,
        message=message.strip(),
        author=author,
        sha256=content.sha256,
        search_text=content.search_text,
        parent=parent,
    )
    VersionInclude.objects.bulk_create(
        VersionInclude(version=version, prompt=locked, included=target) for target in included
    )
    Prompt.objects.filter(pk=locked.pk).update(updated_at=timezone.now())
    audit(
        actor=author,
        action="version.created",
        object_type="prompt_version",
        object_id=f"{prompt.full_name}@{version.number}",
        namespace=prompt.namespace.slug,
        justification=version.message,
        after={
            "number": version.number,
            "sha256": version.sha256,
            "parent": parent.number if parent else None,
        },
    )
    return version


@atomic_write
def deployment_set(
    *,
    prompt: Prompt,
    environment: Environment,
    version: PromptVersion,
    actor: Principal | None,
    action: str,
    justification: str = "",
    details: dict[str, Any] | None = None,
) -> Deployment:
    """Point one environment of a prompt at a version and audit it as `action`.

    No approval rules here: the promotion workflow and rollback call this after enforcing them.
    """
    if version.prompt_id != prompt.pk:
        raise Invalid.field(
            "version", f"Version {version.number} does not belong to {prompt.full_name}."
        )
    deployment = (
        Deployment.objects.select_for_update()
        .select_related("version")
        .filter(prompt=prompt, environment=environment)
        .first()
    )
    before = deployment.version.number if deployment else None
    if deployment is None:
        deployment = Deployment(prompt=prompt, environment=environment)
    elif deployment.version_id == version.pk:
        return deployment
    deployment.version = version
    deployment.deployed_at = timezone.now()
    deployment.deployed_by = actor if permissions.is_user(actor) else None
    with conflict_on_integrity_error(
        f"{prompt.full_name} in {environment.slug} was deployed concurrently; try again."
    ):
        deployment.save()
    resolve_cache.invalidate_prompts([prompt])
    experiments.stop_running(
        actor=actor, prompt=prompt, environment=environment, cause=Experiment.StopCause.DEPLOYMENT
    )
    audit(
        actor=actor,
        action=action,
        object_type="deployment",
        object_id=f"{prompt.full_name}@{environment.slug}",
        namespace=prompt.namespace.slug,
        justification=justification,
        before={"version": before},
        after={"version": version.number, **(details or {})},
    )
    return deployment


@atomic_write
def environment_create(*, actor: Principal, slug: str, **fields: Any) -> Environment:
    require(permissions.is_staff(actor), "Only staff configure environments.")
    unknown = set(fields) - set(ENVIRONMENT_SETTINGS)
    if unknown:
        raise Invalid(f"Unknown fields: {', '.join(sorted(unknown))}.")
    environment = Environment(slug=slug, **fields)
    clean_or_invalid(environment)
    with conflict_on_integrity_error(f"An environment {slug!r} or its order already exists."):
        environment.save()
    audit(
        actor=actor,
        action="environment.created",
        object_type="environment",
        object_id=slug,
        after=_environment_state(environment),
    )
    return environment


def _environment_state(environment: Environment) -> dict:
    return {name: getattr(environment, name) for name in ENVIRONMENT_SETTINGS}


@atomic_write
def environment_update(*, actor: Principal, environment: Environment, **fields: Any) -> Environment:
    require(permissions.is_staff(actor), "Only staff configure environments.")
    unknown = set(fields) - set(ENVIRONMENT_SETTINGS)
    if unknown:
        raise Invalid(f"Unknown or read-only fields: {', '.join(sorted(unknown))}.")
    environment = Environment.objects.select_for_update().get(pk=environment.pk)
    before = _environment_state(environment)
    for name, value in fields.items():
        setattr(environment, name, value)
    clean_or_invalid(environment)
    with conflict_on_integrity_error("Another environment already has this order."):
        environment.save()
    audit(
        actor=actor,
        action="environment.changed",
        object_type="environment",
        object_id=environment.slug,
        before=before,
        after=_environment_state(environment),
    )
    return environment
