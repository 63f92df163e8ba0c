"""Langfuse prompts into the portal, one prompt per transaction, every write through the
services of the apps below (their permission checks and audit entries included).

Per prompt: its namespace (created for `team` when missing), the prompt (kind from `type`,
tags from the newest version when it is created), every version in order, then its labels.

- A version's content is Langfuse's text or chat messages, its variables the mustache
  placeholders it uses, its model config Langfuse's `config` (null → `{}`, never inherited),
  its message the commit message (or where it was imported from). Chat placeholders (message
  history slots) have no equivalent here: the prompt is refused, naming the version.
- Idempotent: the k-th source version with some content is the k-th version of the prompt
  with that sha256, if there is one (so a second run creates nothing, and a revert to older
  content in Langfuse is still imported as a new version). A version identical to the one
  before it in the source is skipped and reported.
- Labels go through `label_move`: a deployment at once in environments without approval, a
  promotion request (waiting for the usual reviewers) in the others; a label the version
  already holds, or whose request already waits, is left as it is. `latest` is implied.

A prompt that fails leaves nothing behind and never stops the others. A dry run applies each
prompt the same way and rolls it back, audit entries included: its plan is what a real run
would do.
"""

from collections import Counter, defaultdict

from approvals.models import PromotionRequest
from approvals.services.common import missing_earlier_environments
from integrations.importers.langfuse.names import SLUG, slug, target_names
from integrations.importers.langfuse.report import CREATED, ImportReport, PromptResult
from integrations.importers.langfuse.source import CHAT, SourcePrompt, SourceVersion
from integrations.langfuse.labels import LATEST, label_move
from portal.errors import Conflict, DomainError, ErrorCode, Invalid
from portal.transactions import atomic_write
from prompts.content import build_content
from prompts.models import Deployment, Environment, Prompt, PromptVersion
from prompts.services import prompt_create, version_create
from prompts.templating import MUSTACHE, placeholders
from teams.models import Namespace, Team
from teams.permissions import Principal, namespaces_visible_to
from teams.services.namespaces import namespace_create

MAX_TAG_CHARS = 50


class _Done(Exception):
    """Leaves a prompt's transaction rolled back (it failed, or the run is a dry run),
    carrying the prompt's result."""

    def __init__(self, result: PromptResult) -> None:
        super().__init__(result.source)
        self.result = result


def import_prompts(
    *,
    actor: Principal,
    prompts: list[SourcePrompt],
    origin: str,
    team: Team | None = None,
    default_namespace: str | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Import every prompt of `prompts`; each one's problem is in its result."""
    targets = target_names([prompt.name for prompt in prompts], default_namespace)
    results = []
    for source in prompts:
        target = targets[source.name]
        problems = source.problems or ([target] if isinstance(target, str) else [])
        if problems:
            result = PromptResult(source=source.name, errors=problems[:-1])
            results.append(result.fail(problems[-1]))
            continue
        result = PromptResult(source=source.name, target="/".join(target))
        try:
            result = _import(
                actor=actor,
                source=source,
                target=target,
                team=team,
                origin=origin,
                dry_run=dry_run,
            )
        except _Done as done:
            result = done.result
        except Exception as exc:  # a bug or an outage must not stop the other prompts
            result.fail(f"unexpected error: {exc!r}")
        results.append(result)
    return ImportReport(origin=origin, dry_run=dry_run, results=results)


def _describe(exc: DomainError) -> str:
    messages = [m for ms in getattr(exc, "errors", {}).values() for m in ms]
    extra = [message for message in messages if message != exc.detail]
    return "; ".join([exc.detail, *extra])


@atomic_write
def _import(
    *,
    actor: Principal,
    source: SourcePrompt,
    target: tuple[str, str],
    team: Team | None,
    origin: str,
    dry_run: bool,
) -> PromptResult:
    result = PromptResult(source=source.name, target="/".join(target))
    try:
        namespace = _namespace(actor=actor, slug=target[0], team=team, origin=origin, result=result)
        prompt = _prompt(
            actor=actor, namespace=namespace, name=target[1], source=source, result=result
        )
        mapping = _versions(actor=actor, prompt=prompt, source=source, origin=origin, result=result)
        _labels(
            actor=actor, prompt=prompt, source=source, mapping=mapping, origin=origin, result=result
        )
    except DomainError as exc:
        raise _Done(result.fail(_describe(exc))) from exc
    if dry_run:
        raise _Done(result)
    return result


def _namespace(
    *, actor: Principal, slug: str, team: Team | None, origin: str, result: PromptResult
) -> Namespace:
    namespace = namespaces_visible_to(user=actor).filter(slug=slug).first()
    if namespace is not None:
        return namespace
    if team is None:
        raise Invalid(f"No namespace {slug!r}: give --team to create the missing namespaces.")
    namespace = namespace_create(
        actor=actor, slug=slug, team=team, description=f"Imported from Langfuse ({origin})."
    )
    result.notes.append(f"namespace {slug} created for team {team.slug}")
    return namespace


def _prompt(
    *, actor: Principal, namespace: Namespace, name: str, source: SourcePrompt, result: PromptResult
) -> Prompt:
    prompt = (
        Prompt.objects.select_related("namespace__team")
        .filter(namespace=namespace, name=name)
        .first()
    )
    if prompt is None:
        tags = {tag: slug(tag) for tag in source.versions[-1].tags}
        kept = sorted({t for t in tags.values() if SLUG.match(t) and len(t) <= MAX_TAG_CHARS})
        dropped = sorted(tag for tag, t in tags.items() if t not in kept)
        if dropped:
            result.notes.append(f"tags not imported (no slug): {', '.join(dropped)}")
        result.status = CREATED
        return prompt_create(
            actor=actor,
            namespace=namespace,
            name=name,
            kind=source.kind,
            description=f"Imported from Langfuse: {source.name}",
            tags=kept,
        )
    if prompt.kind != source.kind:
        raise Invalid(
            f"{prompt.full_name} is a {prompt.kind} prompt here, {source.kind} in Langfuse."
        )
    return prompt


def _content_fields(kind: str, version: SourceVersion) -> dict:
    """version_create's content arguments for a Langfuse version."""
    if kind == CHAT:
        messages = []
        for index, message in enumerate(version.prompt):
            if not isinstance(message, dict):
                raise Invalid(f"message {index} is not an object.")
            if message.get("type") == "placeholder":
                raise Invalid(
                    f"message {index} is a chat placeholder ({message.get('name')!r}): "
                    "placeholders are not supported; write the messages out instead."
                )
            messages.append({"role": message.get("role"), "content": message.get("content")})
        sources = [m["content"] for m in messages if isinstance(m["content"], str)]
        fields = {"template": None, "messages": messages}
    else:
        sources, fields = [version.prompt], {"template": version.prompt, "messages": None}
    return fields | {
        "template_format": MUSTACHE,
        "variables": sorted(placeholders(MUSTACHE, sources)),
        "model_config": dict(version.config or {}),
    }


def _versions(
    *,
    actor: Principal,
    prompt: Prompt,
    source: SourcePrompt,
    origin: str,
    result: PromptResult,
) -> dict[int, PromptVersion]:
    """Source version number → our version (created, or the one with the same content)."""
    existing: dict[str, list[PromptVersion]] = defaultdict(list)
    for version in prompt.versions.order_by("number"):
        existing[version.sha256].append(version)
    seen: Counter[str] = Counter()
    mapping: dict[int, PromptVersion] = {}
    previous: tuple[int, str, PromptVersion] | None = None
    for version in source.versions:
        number = version.number
        try:
            fields = _content_fields(prompt.kind, version)
            sha256 = build_content(kind=prompt.kind, **fields).sha256
            if previous is not None and previous[1] == sha256:
                mapping[number] = previous[2]
                detail = f"identical to v{previous[0]} in Langfuse"
                result.version(number, "skipped", previous[2].number, detail)
                continue
            seen[sha256] += 1
            if seen[sha256] <= len(existing[sha256]):
                ours = existing[sha256][seen[sha256] - 1]
                result.version(number, "exists", ours.number)
            else:
                message = version.commit_message or (
                    f"Imported from Langfuse ({origin}): {source.name} v{number}"
                )
                ours, created = _create(actor=actor, prompt=prompt, fields=fields, message=message)
                result.version(number, "created" if created else "exists", ours.number)
        except DomainError as exc:
            raise Invalid(f"v{number}: {_describe(exc)}") from exc
        mapping[number] = ours
        previous = (number, sha256, ours)
    return mapping


def _create(
    *, actor: Principal, prompt: Prompt, fields: dict, message: str
) -> tuple[PromptVersion, bool]:
    try:
        return version_create(prompt=prompt, author=actor, message=message, **fields), True
    except Conflict as exc:
        if exc.code != ErrorCode.UNCHANGED:
            raise
    # The newest version already holds this content (it was there before the import).
    return prompt.versions.order_by("-number").first(), False


def _labels(
    *,
    actor: Principal,
    prompt: Prompt,
    source: SourcePrompt,
    mapping: dict[int, PromptVersion],
    origin: str,
    result: PromptResult,
) -> None:
    """Each label in environment order (development first), so a version's earlier steps are
    requested before the later ones that wait for them."""
    environments = {environment.slug: environment for environment in Environment.objects.all()}
    wanted = sorted(
        (
            (label, version)
            for version in source.versions
            for label in version.labels
            if label != LATEST
        ),
        key=lambda item: (getattr(environments.get(item[0]), "order", float("inf")), item[0]),
    )
    held_by = {label: mapping[version.number] for label, version in wanted}
    waiting = set(
        PromotionRequest.objects.filter(
            prompt=prompt, state=PromotionRequest.State.PENDING
        ).values_list("pk", flat=True)
    )
    for label, version in wanted:
        ours = mapping[version.number]
        environment = environments.get(label)
        if (
            environment
            and Deployment.objects.filter(
                prompt=prompt, environment=environment, version=ours
            ).exists()
        ):
            result.label(label, "held", ours.number)
            continue
        step = missing_earlier_environments(prompt, environment, ours)[:1] if environment else []
        if step and held_by.get(step[0], ours) != ours:
            # Requesting the step would supersede the request for the step's own label.
            result.label(
                label,
                "deferred",
                ours.number,
                f"v{ours.number} must run in {step[0]} before {label}, and {step[0]}'s label "
                f"names v{held_by[step[0]].number}: promote v{ours.number} through {step[0]} "
                "in the portal, then run the import again",
            )
            continue
        outcome = label_move(
            actor=actor,
            prompt=prompt,
            version=ours,
            label=label,
            justification=(
                f"Imported from Langfuse ({origin}): {source.name} v{version.number} "
                f"holds the label {label!r} there."
            ),
        )
        if outcome.state != "pending":
            state = "deployed" if outcome.state == "held" else "refused"
            result.label(label, state, ours.number, outcome.detail)
            continue
        request = outcome.request
        result.label(
            label,
            "pending" if request.pk in waiting else "requested",
            ours.number,
            outcome.detail if request.environment.slug != label else "",
            request=request.pk,
            environment=request.environment.slug,
            required_approvals=request.required_approvals,
        )
        waiting.add(request.pk)
