"""Prompts that include other prompts: existence, kind and cycle checks at version creation."""

from django.db.models import Q

from portal.errors import ErrorCode, Invalid
from prompts.content import VersionContent
from prompts.models import Deployment, Prompt, PromptVersion, VersionInclude
from prompts.templating import includes
from teams.permissions import Principal, namespaces_visible_to

MAX_INCLUDE_DEPTH = 8


def version_includes(version: PromptVersion) -> set[str]:
    """What a stored version includes. Mustache is scanned here (linear, no code); jinja2 is
    never parsed in this process: its VersionInclude rows say (one query)."""
    if version.template_format != PromptVersion.TemplateFormat.MUSTACHE:
        return included_names([version.pk])[version.pk]
    sources = (
        [m["content"] for m in version.messages or []]
        if version.messages is not None
        else [version.template]
    )
    return includes(version.template_format, sources)


def included_names(version_ids: list[int]) -> dict[int, set[str]]:
    """The `namespace/name` of every prompt each stored version includes, from the
    VersionInclude rows written with it (stored templates are never parsed again)."""
    names: dict[int, set[str]] = {pk: set() for pk in version_ids}
    rows = VersionInclude.objects.filter(version_id__in=version_ids).values_list(
        "version_id", "included__namespace__slug", "included__name"
    )
    for version_id, namespace, name in rows:
        names[version_id].add(f"{namespace}/{name}")
    return names


def prompts_named(names: set[str]) -> dict[str, Prompt]:
    if not names:
        return {}
    query = Q()
    for full_name in names:
        namespace, _, name = full_name.partition("/")
        query |= Q(namespace__slug=namespace, name=name)
    return {p.full_name: p for p in Prompt.objects.filter(query).select_related("namespace")}


def _edges(prompt_ids: list[int]) -> dict[int, set[str]]:
    """Includes of each prompt's latest and deployed versions (what could be composed)."""
    versions = PromptVersion.objects.filter(
        Q(prompt_id__in=prompt_ids)
        & (
            Q(pk__in=Deployment.objects.filter(prompt_id__in=prompt_ids).values("version_id"))
            | Q(children__isnull=True)
        )
    ).distinct()
    edges: dict[int, set[str]] = {pk: set() for pk in prompt_ids}
    names = included_names([version.pk for version in versions])
    for version in versions:
        edges[version.prompt_id] |= names[version.pk]
    return edges


def check_includes(*, prompt: Prompt, content: VersionContent, author: Principal) -> list[Prompt]:
    """Included prompts exist, are visible to the author, are text prompts, and no chain of
    includes leads back to `prompt`. Returns the included prompts."""
    names = includes(content.template_format, content.sources())
    if not names:
        return []
    found = prompts_named(names)
    visible = set(
        namespaces_visible_to(user=author)
        .filter(pk__in=[p.namespace_id for p in found.values()])
        .values_list("pk", flat=True)
    )
    missing = sorted(n for n in names if n not in found or found[n].namespace_id not in visible)
    if missing:
        raise Invalid.field("template", f"Included prompts do not exist: {', '.join(missing)}.")
    private = sorted(
        n
        for n, p in found.items()
        if p.namespace_id != prompt.namespace_id and p.namespace.visibility != "internal"
    )
    if private:
        raise Invalid.field(
            "template",
            "Only prompts of the same namespace or of internal namespaces can be included "
            f"(their text is served with this prompt): {', '.join(private)}.",
            code=ErrorCode.INCLUDE_PRIVATE,
        )
    chat = sorted(n for n, p in found.items() if p.kind != Prompt.Kind.TEXT)
    if chat:
        raise Invalid.field("template", f"Only text prompts can be included: {', '.join(chat)}.")
    path = _path_back_to(prompt, found)
    if path:
        raise Invalid.field(
            "template",
            "Includes would form a cycle: " + " → ".join([prompt.full_name, *path]) + ".",
            code=ErrorCode.INCLUDE_CYCLE,
        )
    return list(found.values())


def _path_back_to(prompt: Prompt, first: dict[str, Prompt]) -> list[str] | None:
    """Breadth-first over includes; the chain of names back to `prompt`, if there is one."""
    frontier = {p.pk: [name] for name, p in first.items()}
    seen: set[int] = set()
    for _ in range(MAX_INCLUDE_DEPTH + 1):
        if prompt.pk in frontier:
            return frontier[prompt.pk]
        seen |= set(frontier)
        edges = _edges(list(frontier))
        next_names = {name for names in edges.values() for name in names}
        targets = prompts_named(next_names)
        following: dict[int, list[str]] = {}
        for source_id, names in edges.items():
            for name in names:
                target = targets.get(name)
                if target and target.pk not in seen and target.pk not in following:
                    following[target.pk] = [*frontier[source_id], name]
        if not following:
            return None
        frontier = following
    raise Invalid.field("template", f"Includes nest deeper than {MAX_INCLUDE_DEPTH} levels.")
