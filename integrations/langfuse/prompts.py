"""Langfuse prompts on our data: what `get_prompt`, `create_prompt`, `update_prompt` and the
prompt list of the `langfuse` SDK read and write, through our own resolve and services.

- A Langfuse name `support/refund-reply` is namespace `support`, prompt `refund-reply`; any
  other name names nothing here.
- Reads go through `prompts.resolve`: visibility, the cache, deprecation headers and
  retirement apply exactly as to our own resolve. A label is an environment (by slug) or
  `latest` (the newest version); a pinned version's includes are those deployed in
  production, `latest`'s those of the first environment (as our resolve's default and the
  newest version's usual home).
- Mustache includes (`{{> ns/name}}`) are inlined with the included text as deployed, so the
  SDK's `compile()` fills the same placeholders our render does. Jinja2 text is served as it
  is: the SDK's `compile()` does not run jinja2.
- Writes create the next version (nothing when the content is unchanged) and move labels
  through `labels.label_move`: a label that needs approval opens a promotion request.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max, Prefetch

from integrations.langfuse.labels import LATEST, LabelOutcome, label_move, labels_by_version
from portal.errors import Conflict, ErrorCode, Gone, Invalid, NotFound
from prompts import resolve, selectors
from prompts.composition import MAX_INCLUDE_DEPTH
from prompts.models import Environment, Prompt, PromptVersion
from prompts.services import prompt_create, prompt_update, version_create
from prompts.templating import (
    INCLUDE_NAME,
    MAX_OUTPUT_CHARS,
    MUSTACHE,
    mustache_tags,
    parse_mustache_tag,
    placeholders,
)
from teams import permissions
from teams.permissions import Principal, require
from teams.selectors import namespace_get

DEFAULT_LABEL = "production"
PROJECT_ID = "prompt-portal"
MAX_PAGE_SIZE = 100
MAX_VERSION = 2**31 - 1
NAME_HELP = "A Langfuse name here is `namespace/prompt` (lower-case slugs), e.g. support/refund."
_SLUG = re.compile(r"^[a-z][a-z0-9-]{1,62}$")


def split_name(name: str) -> tuple[str, str] | None:
    """(namespace, prompt) of a Langfuse name, or None when it names nothing here."""
    if not isinstance(name, str) or not INCLUDE_NAME.match(name):
        return None
    namespace, _, prompt = name.partition("/")
    return namespace, prompt


@dataclass(frozen=True)
class Served:
    """A prompt as Langfuse answers it, and the headers our resolve answered with."""

    body: dict[str, Any]
    headers: dict[str, str]


@dataclass(frozen=True)
class Written:
    """What a write did: the version it answers about, whether it was created now, and what
    happened to each label."""

    version: PromptVersion
    created: bool
    outcomes: list[LabelOutcome]

    @property
    def pending(self) -> list[LabelOutcome]:
        return [outcome for outcome in self.outcomes if outcome.state == "pending"]


# --- Reads --------------------------------------------------------------------------------


def _missing(name: str, label: str | None, version: int | None) -> NotFound:
    which = f"version {version}" if version is not None else f"label {label!r}"
    return NotFound(f"Prompt not found: {name!r} with {which}.")


def _target(
    namespace: str, name: str, label: str, version: int | None
) -> tuple[str, int | None] | None:
    """(environment, pinned version) to resolve, or None when the label names nothing."""
    if version is not None:
        return DEFAULT_LABEL, version
    if label == LATEST:
        newest = PromptVersion.objects.filter(
            prompt__namespace__slug=namespace, prompt__name=name
        ).aggregate(newest=Max("number"))["newest"]
        first = Environment.objects.order_by("order").values_list("slug", flat=True).first()
        return (first, newest) if newest is not None and first else None
    if not _SLUG.match(label) or not Environment.objects.filter(slug=label).exists():
        return None
    return label, None


def prompt_served(
    *, user: Principal, name: str, label: str | None = None, version: int | None = None
) -> Served:
    """The prompt under `label` (default production) or at `version`, as the caller may
    read it. A prompt the caller may not read, an unknown label and a retired prompt all
    answer NotFound (the retired one names its successor)."""
    label = label or DEFAULT_LABEL
    parts = split_name(name)
    target = _target(*parts, label, version) if parts else None
    if target is None:
        raise _missing(name, label, version)
    environment, number = target
    try:
        resolved = resolve.resolve(
            user=user, namespace=parts[0], name=parts[1], environment=environment, version=number
        )
    except Gone as gone:
        raise NotFound(
            f"Prompt not found: {gone.detail}", code=ErrorCode.RETIRED, extensions=gone.extensions
        ) from gone
    body = resolved.body
    row = (
        PromptVersion.objects.select_related("prompt__namespace", "author")
        .filter(prompt__namespace__slug=parts[0], prompt__name=parts[1], number=body["version"])
        .get()
    )
    content = _inlined(body)
    headers = {
        header: value
        for header, value in resolved.headers.items()
        if header in ("Deprecation", "Sunset", "Link")
    }
    return Served(body=prompt_shape(version=row, content=content), headers=headers)


def _inlined(body: dict[str, Any]) -> str | list[dict[str, str]]:
    includes = body["includes"]
    if body["template_format"] != MUSTACHE:
        inline = str
    else:

        def inline(text: str) -> str:
            return inline_includes(text, includes)

    if body["kind"] == Prompt.Kind.CHAT:
        return [{"role": m["role"], "content": inline(m["content"])} for m in body["messages"]]
    return inline(body["template"])


def inline_includes(text: str, includes: dict[str, dict[str, Any]], depth: int = 0) -> str:
    """The mustache text with each `{{> ns/name}}` replaced by the included text (itself
    inlined when it is mustache). Placeholders stay for the caller to fill."""
    pieces, position = [], 0
    for start, end, inner in mustache_tags(text):
        kind, value = parse_mustache_tag(inner)
        if kind != "include" or value not in includes or depth >= MAX_INCLUDE_DEPTH:
            continue
        included = includes[value]
        filled = included["template"]
        if included["template_format"] == MUSTACHE:
            filled = inline_includes(filled, includes, depth + 1)
        pieces += (text[position:start], filled)
        position = end
    pieces.append(text[position:])
    inlined = "".join(pieces)
    if len(inlined) > MAX_OUTPUT_CHARS:
        raise Invalid(
            f"The prompt with its includes exceeds {MAX_OUTPUT_CHARS} characters.",
            code=ErrorCode.TOO_LARGE,
        )
    return inlined


def prompt_shape(
    *, version: PromptVersion, content: Any = None, labels: list[str] | None = None
) -> dict[str, Any]:
    """The Langfuse prompt object of one version (the text as written unless `content`)."""
    prompt = version.prompt
    if content is None:
        content = version.template
        if prompt.kind == Prompt.Kind.CHAT:
            content = [{"role": m["role"], "content": m["content"]} for m in version.messages]
    if labels is None:
        labels = labels_by_version(prompt).get(version.number, [])
    return {
        "id": f"{prompt.full_name}@{version.number}",
        "type": prompt.kind,
        "prompt": content,
        "name": prompt.full_name,
        "version": version.number,
        "config": version.model_config,
        "labels": labels,
        "tags": sorted(prompt.tags.values_list("slug", flat=True)),
        "commitMessage": version.message or None,
        "createdAt": version.created_at.isoformat(),
        "updatedAt": max(version.created_at, prompt.updated_at).isoformat(),
        "projectId": PROJECT_ID,
        "createdBy": version.author.get_username(),
        "resolutionGraph": None,
        "isActive": None,
    }


def prompts_page(
    *,
    user: Principal,
    name: str | None = None,
    label: str | None = None,
    tag: str | None = None,
    page: int = 1,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """One page of the prompts the caller may see (with at least one version), filtered by
    Langfuse name, label and tag, and the page's `meta`. Six queries, whatever the page."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    prompts = selectors.prompts_visible_to(user=user).filter(latest_version__isnull=False)
    if name is not None:
        parts = split_name(name)
        prompts = (
            prompts.filter(namespace__slug=parts[0], name=parts[1]) if parts else prompts.none()
        )
    if label is not None and label != LATEST:
        prompts = prompts.filter(deployments__environment__slug=label)
    if tag is not None:
        prompts = prompts.filter(tags__slug=tag)
    total = prompts.count()
    numbers = PromptVersion.objects.only("pk", "prompt_id", "number", "model_config")
    rows = prompts.prefetch_related(
        Prefetch("versions", queryset=numbers.order_by("number"), to_attr="numbered")
    )[(page - 1) * limit : page * limit]
    data = []
    for prompt in rows:
        newest = prompt.numbered[-1]
        labels = [d.environment.slug for d in prompt.deployments.all()] + [LATEST]
        data.append(
            {
                "name": prompt.full_name,
                "type": prompt.kind,
                "versions": [version.number for version in prompt.numbered],
                "labels": labels,
                "tags": [t.slug for t in prompt.tags.all()],
                "lastUpdatedAt": prompt.updated_at.isoformat(),
                "lastConfig": newest.model_config,
            }
        )
    pages = (total + limit - 1) // limit
    return data, {"page": page, "limit": limit, "totalItems": total, "totalPages": pages}


# --- Writes -------------------------------------------------------------------------------


def _checked_labels(labels: list[str], field: str) -> list[str]:
    """The labels, each once and in order; every one an environment or `latest`."""
    known = set(Environment.objects.values_list("slug", flat=True)) | {LATEST}
    unknown = [label for label in labels if label not in known]
    if unknown:
        shown = ", ".join(repr(label[:63]) for label in unknown[:10])
        raise Invalid.field(
            field,
            f"Unknown labels {shown}: labels name environments ({', '.join(sorted(known))}).",
            code=ErrorCode.INVALID_CHOICE,
        )
    return list(dict.fromkeys(labels))


def _require_promotion_right(actor: Principal, prompt_namespace, labels: list[str]) -> None:
    if any(label != LATEST for label in labels):
        require(
            permissions.can_request_promotion(actor, prompt_namespace),
            f"Only maintainers and owners of {prompt_namespace.team.slug} set labels "
            f"(request promotions) in {prompt_namespace.slug}.",
        )


def _content(kind: str, prompt: Any) -> dict[str, Any]:
    """version_create's content arguments for a Langfuse `prompt`, variables included."""
    if kind == Prompt.Kind.CHAT:
        if not isinstance(prompt, list) or not all(isinstance(m, dict) for m in prompt):
            raise Invalid.field("prompt", "A chat prompt is a list of {role, content} messages.")
        if any(m.get("type") == "placeholder" for m in prompt):
            raise Invalid.field(
                "prompt",
                "Chat placeholders ({type: placeholder}) are not supported here: write the "
                "messages out, or pass the history as a variable.",
            )
        messages = [{k: v for k, v in m.items() if k != "type"} for m in prompt]
        sources = [m.get("content") for m in messages]
        arguments = {"messages": messages}
    else:
        if not isinstance(prompt, str):
            raise Invalid.field("prompt", "A text prompt is a string.")
        sources, arguments = [prompt], {"template": prompt}
    if all(isinstance(source, str) for source in sources):
        arguments["variables"] = sorted(placeholders(MUSTACHE, sources))
    return arguments


def prompt_publish(
    *,
    actor: Principal,
    name: str,
    kind: str,
    prompt: Any,
    config: dict[str, Any] | None,
    labels: list[str],
    tags: list[str] | None,
    commit_message: str | None,
    justification: str,
) -> Written:
    """`create_prompt`: the prompt (created in an existing namespace if missing), its next
    version (none when the content equals the newest version's), its tags when given, then
    each label as far as governance allows."""
    parts = split_name(name)
    if parts is None:
        raise Invalid.field("name", NAME_HELP)
    namespace = namespace_get(user=actor, slug=parts[0])
    labels = _checked_labels(labels, "labels")
    _require_promotion_right(actor, namespace, labels)
    arguments = _content(kind, prompt)
    with transaction.atomic():
        target = Prompt.objects.filter(namespace=namespace, name=parts[1]).first()
        if target is None:
            target = prompt_create(
                actor=actor, namespace=namespace, name=parts[1], kind=kind, tags=tags or ()
            )
        elif target.kind != kind:
            raise Invalid.field("type", f"{name} is a {target.kind} prompt.")
        elif tags is not None and sorted(set(tags)) != sorted(
            target.tags.values_list("slug", flat=True)
        ):
            prompt_update(actor=actor, prompt=target, tags=tags)
        try:
            version = version_create(
                prompt=target,
                author=actor,
                model_config=config or {},
                message=commit_message or "",
                **arguments,
            )
            created = True
        except Conflict as unchanged:
            if unchanged.code != ErrorCode.UNCHANGED:
                raise
            version = target.versions.order_by("-number").first()
            created = False
    outcomes = _move(actor, version, labels, justification)
    return Written(version=_reloaded(version), created=created, outcomes=outcomes)


def labels_add(
    *, actor: Principal, name: str, number: int, labels: list[str], justification: str
) -> Written:
    """`update_prompt`: give version `number` each label, as far as governance allows. Labels
    are only added: an environment always runs some version, so a label is never removed."""
    parts = split_name(name)
    if parts is None or number > MAX_VERSION:
        raise NotFound(f"Prompt not found: {name!r} with version {number}.")
    prompt = selectors.prompt_get(user=actor, namespace=parts[0], name=parts[1])
    version = selectors.prompt_version_get(prompt=prompt, number=number)
    labels = _checked_labels(labels, "newLabels")
    _require_promotion_right(actor, prompt.namespace, labels)
    outcomes = _move(actor, version, labels, justification)
    return Written(version=_reloaded(version), created=False, outcomes=outcomes)


def _move(
    actor: Principal, version: PromptVersion, labels: list[str], justification: str
) -> list[LabelOutcome]:
    return [
        label_move(
            actor=actor,
            prompt=version.prompt,
            version=version,
            label=label,
            justification=justification,
        )
        for label in labels
    ]


def _reloaded(version: PromptVersion) -> PromptVersion:
    return PromptVersion.objects.select_related("prompt__namespace", "author").get(pk=version.pk)
