"""Langfuse prompts on our data: what `get_prompt` and the prompt list of the `langfuse` SDK
read, through our own resolve (the writes are `prompts_write`).

- A Langfuse name `support/refund-reply` is namespace `support`, prompt `refund-reply`; any
  other name names nothing here.
- Reads go through `prompts.resolve`: visibility, the cache, deprecation headers and
  retirement apply exactly as to our own resolve. A label is an environment (by slug) or
  `latest` (the newest version); a pinned version's includes are those deployed in the
  last environment by order (production, unless an admin renamed it), `latest`'s those of
  the first environment (the newest version's usual home).
- Mustache includes (`{{> ns/name}}`) are inlined with the included text as deployed, so the
  SDK's `compile()` fills the same placeholders our render does. Jinja2 text is served as it
  is: the SDK's `compile()` does not run jinja2.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Max, Prefetch

from integrations.langfuse.labels import LATEST, labels_by_version
from portal.errors import ErrorCode, Gone, Invalid, NotFound
from prompts import resolve, selectors
from prompts.composition import MAX_INCLUDE_DEPTH
from prompts.models import Environment, Prompt, PromptVersion
from prompts.templating import (
    INCLUDE_NAME,
    MAX_OUTPUT_CHARS,
    MUSTACHE,
    mustache_tags,
    parse_mustache_tag,
)
from teams.permissions import Principal

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


# --- Reads --------------------------------------------------------------------------------


def _missing(name: str, label: str | None, version: int | None) -> NotFound:
    which = f"version {version}" if version is not None else f"label {label!r}"
    return NotFound(f"Prompt not found: {name!r} with {which}.")


def _target(
    user: Principal, namespace: str, name: str, label: str, version: int | None
) -> tuple[str, int | None] | None:
    """(environment, pinned version) to resolve, or None when the label names nothing. The
    newest version is only looked for among the prompts the caller may read, so `latest` of
    a prompt they may not read answers as a missing prompt does."""
    environments = Environment.objects.values_list("slug", flat=True)
    if version is not None:
        return environments.order_by("-order").first() or DEFAULT_LABEL, version
    if label == LATEST:
        visible = selectors.prompts_visible_to(user=user).filter(
            namespace__slug=namespace, name=name
        )
        newest = PromptVersion.objects.filter(prompt__in=visible.values("pk")).aggregate(
            newest=Max("number")
        )["newest"]
        first = environments.order_by("order").first()
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
    target = _target(user, *parts, label, version) if parts else None
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
