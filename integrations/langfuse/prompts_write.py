"""Langfuse prompt writes on our data: what `create_prompt` and `update_prompt` of the
`langfuse` SDK do, through our services. A write creates the next version (nothing when the
content is unchanged) and moves labels through `labels.label_move`: a label that needs
approval opens a promotion request. Each call is one transaction (`atomic_write`: retried
once as a deadlock victim).
"""

from dataclasses import dataclass
from typing import Any

from integrations.langfuse.labels import LATEST, LabelOutcome, label_move
from integrations.langfuse.prompts import MAX_VERSION, NAME_HELP, split_name
from portal.errors import Conflict, ErrorCode, Invalid, NotFound
from portal.transactions import atomic_write
from prompts import selectors
from prompts.models import Environment, Prompt, PromptVersion
from prompts.services import prompt_create, prompt_update, version_create
from prompts.templating import MUSTACHE, placeholders
from teams import permissions
from teams.permissions import Principal, require
from teams.selectors import namespace_get


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


def _checked_labels(labels: list[str], field: str, *, latest: bool = True) -> list[str]:
    """The labels, each once and in order; every one an environment or (where `latest`)
    `latest`."""
    if not latest and LATEST in labels:
        raise Invalid.field(
            field,
            "`latest` always names the newest version: it is never set by hand.",
            code=ErrorCode.INVALID_CHOICE,
        )
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


@atomic_write
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
    each label as far as governance allows. One transaction: a label's refusal is an
    outcome (its request's savepoint rolled back, the version kept); any other error undoes
    the whole call."""
    parts = split_name(name)
    if parts is None:
        raise Invalid.field("name", NAME_HELP)
    namespace = namespace_get(user=actor, slug=parts[0])
    labels = _checked_labels(labels, "labels")
    _require_promotion_right(actor, namespace, labels)
    arguments = _content(kind, prompt)
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
        version = version_create(  # its own savepoint: an unchanged text rolls back only it
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


@atomic_write
def labels_add(
    *, actor: Principal, name: str, number: int, labels: list[str], justification: str
) -> Written:
    """`update_prompt`: give version `number` each label, as far as governance allows. Labels
    are only added: an environment always runs some version, so a label is never removed.
    `latest` is refused (400, as Langfuse does): it always names the newest version."""
    parts = split_name(name)
    if parts is None or number > MAX_VERSION:
        raise NotFound(f"Prompt not found: {name!r} with version {number}.")
    prompt = selectors.prompt_get(user=actor, namespace=parts[0], name=parts[1])
    version = selectors.prompt_version_get(prompt=prompt, number=number)
    labels = _checked_labels(labels, "newLabels", latest=False)
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
