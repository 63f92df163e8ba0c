"""Prompts as code: a folder's prompt files brought into the portal, file by file.

Each prompt file is applied in its own transaction, through the services every other writer
uses (permissions and audit entries included): the prompt is created if missing, its
description and tags follow the file, a version is created only where the content's sha256
differs from the newest version's, and its suites follow their promptfoo files. The actor must
be allowed to edit the namespace's prompts even where nothing would change (an internal
namespace is readable by all, not writable). A file that fails (unreadable as UTF-8 text
included) leaves nothing behind and never stops the others. A dry run applies each file the same
way and rolls it back, so its plan is exactly what a real run would do (and it leaves nothing:
no rows, no audit entries, no notifications).

With `promote`, the newest version of every valid file is then proposed for that environment
(in a savepoint of the file's transaction: a refused promotion leaves the version in place and
is reported), unless that environment already runs it or a request for it is pending there.
"""

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from approvals.models import PromotionRequest
from approvals.services import promotion_request
from approvals.services.common import require_text
from approvals.sync.files import NOT_UTF8, SyncFile, check_limits
from approvals.sync.spec import PromptFile, is_prompt_path, parse_prompt_file, suite_path
from approvals.sync.suites import suite_sync
from portal.errors import Conflict, DomainError, ErrorCode, Invalid, NotFound
from portal.transactions import atomic_write
from prompts.content import build_content
from prompts.models import Deployment, Environment, Prompt, PromptVersion
from prompts.services import prompt_create, prompt_update, version_create
from teams.permissions import Principal, can_edit_prompts, namespaces_visible_to, require

CREATED, UPDATED, UNCHANGED, INVALID = "created", "updated", "unchanged", "invalid"


@dataclass
class FileResult:
    path: str
    status: str = UNCHANGED
    prompt: str | None = None
    version: int | None = None
    previous_version: int | None = None
    sha256: str | None = None
    changes: list[str] = field(default_factory=list)
    suites: list[dict] = field(default_factory=list)
    promotion: dict | None = None
    code: str | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class SyncReport:
    dry_run: bool
    promote: str | None
    results: list[FileResult]

    @property
    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys((CREATED, UPDATED, UNCHANGED, INVALID), 0)
        for result in self.results:
            counts[result.status] += 1
        promotions = [result.promotion for result in self.results if result.promotion]
        counts["promotions_opened"] = sum(1 for p in promotions if p.get("opened"))
        counts["promotions_failed"] = sum(1 for p in promotions if p["status"] == "failed")
        return counts

    @property
    def ok(self) -> bool:
        summary = self.summary
        return summary[INVALID] == 0 and summary["promotions_failed"] == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "promote": self.promote,
            "ok": self.ok,
            "summary": self.summary,
            "results": [result.as_dict() for result in self.results],
        }


class _RolledBack(Exception):
    """A dry run's file, applied and then undone: carries what it would have done."""

    def __init__(self, result: FileResult) -> None:
        super().__init__(result.path)
        self.result = result


def _environment(slug: str) -> Environment:
    environment = Environment.objects.filter(slug=slug).first()
    if environment is None:
        raise Invalid.field("promote", f"No environment {slug!r}.")
    return environment


def prompts_sync(
    *,
    actor: Principal,
    files: list[SyncFile],
    dry_run: bool = False,
    promote: str | None = None,
    justification: str = "",
) -> SyncReport:
    """Apply every prompt file of `files` (suite files are read through the prompt files
    that name them). Raises only for a request that cannot start (limits, an unknown
    environment, a promotion without justification); each file's problem is in its result."""
    check_limits(files)
    environment = None
    if promote:
        environment = _environment(promote)
        justification = require_text(justification, "justification", "A justification")
    by_path = {file.path: file for file in files}
    seen: dict[str, str] = {}
    results = []
    for path in sorted(path for path in by_path if is_prompt_path(path)):
        try:
            result = _apply(
                actor=actor,
                path=path,
                files=by_path,
                seen=seen,
                environment=environment,
                justification=justification,
                dry_run=dry_run,
            )
        except _RolledBack as undone:
            result = undone.result
        except DomainError as exc:
            result = FileResult(path=path, status=INVALID, code=str(exc.code))
            result.errors = getattr(exc, "errors", None) or {"file": [exc.detail]}
            result.prompt = seen.get(path)
        results.append(result)
    return SyncReport(dry_run=dry_run, promote=promote, results=results)


@atomic_write
def _apply(
    *,
    actor: Principal,
    path: str,
    files: dict[str, SyncFile],
    seen: dict[str, str],
    environment: Environment | None,
    justification: str,
    dry_run: bool,
) -> FileResult:
    spec = parse_prompt_file(_text(files[path], "file"))
    result = FileResult(path=path, prompt=spec.full_name)
    other = next((p for p, name in seen.items() if name == spec.full_name and p != path), None)
    seen[path] = spec.full_name
    if other:
        raise Invalid.field("name", f"{spec.full_name} is also declared by {other}.")
    suites = {name: suite_path(path, reference) for name, reference in spec.suites.items()}
    missing = sorted(target for target in suites.values() if target not in files)
    if missing:
        raise Invalid.field("suites", f"No such file in the folder: {', '.join(missing)}.")
    texts = {target: _text(files[target], "suites") for target in suites.values()}
    prompt = _prompt(actor=actor, spec=spec, result=result)
    _version(actor=actor, prompt=prompt, spec=spec, path=path, result=result)
    for name, target in sorted(suites.items()):
        synced = suite_sync(
            actor=actor, prompt=prompt, name=name, path=target, content=texts[target]
        )
        result.suites.append(synced.as_dict())
        if synced.status != UNCHANGED:
            result.changes.append(f"suite {name}")
    if result.status != CREATED and result.changes:
        result.status = UPDATED
    if environment is not None:
        result.promotion = _promote(
            actor=actor, prompt=prompt, environment=environment, justification=justification
        )
    if dry_run:
        raise _RolledBack(result)
    return result


def _text(file: SyncFile, field: str) -> str:
    if file.not_utf8:
        raise Invalid.field(field, f"{file.path} {NOT_UTF8}.", code=ErrorCode.INVALID_TEXT)
    return file.content


def _prompt(*, actor: Principal, spec: PromptFile, result: FileResult) -> Prompt:
    namespace = namespaces_visible_to(user=actor).filter(slug=spec.namespace).first()
    if namespace is None:
        raise NotFound(f"No namespace {spec.namespace!r}.")
    require(
        can_edit_prompts(actor, namespace),
        f"Only maintainers and owners of {namespace.team.slug} edit prompts in {namespace.slug}.",
    )
    prompt = (
        Prompt.objects.select_related("namespace__team")
        .filter(namespace=namespace, name=spec.name)
        .first()
    )
    if prompt is None:
        result.status = CREATED
        return prompt_create(
            actor=actor,
            namespace=namespace,
            name=spec.name,
            kind=spec.kind,
            description=spec.description,
            tags=spec.tags,
        )
    if prompt.kind != spec.kind:
        raise Invalid.field(
            "kind", f"{prompt.full_name} is a {prompt.kind} prompt; its kind cannot change."
        )
    tags = sorted(prompt.tags.values_list("slug", flat=True))
    changed = {
        "description": spec.description if spec.description != prompt.description else None,
        "tags": spec.tags if sorted(set(spec.tags)) != tags else None,
    }
    if any(value is not None for value in changed.values()):
        prompt = prompt_update(actor=actor, prompt=prompt, **changed)
        result.changes += [name for name, value in changed.items() if value is not None]
    return prompt


def _version(
    *, actor: Principal, prompt: Prompt, spec: PromptFile, path: str, result: FileResult
) -> None:
    content = build_content(
        kind=prompt.kind,
        template=spec.template,
        messages=spec.messages,
        template_format=spec.template_format,
        variables=spec.variables,
        model_config=spec.llm_config,
    )
    newest = PromptVersion.objects.filter(prompt=prompt).order_by("-number").first()
    result.previous_version = newest.number if newest else None
    result.version, result.sha256 = result.previous_version, content.sha256
    if newest is not None and newest.sha256 == content.sha256:
        return
    try:
        with transaction.atomic():
            version = version_create(
                prompt=prompt,
                author=actor,
                template=spec.template,
                messages=spec.messages,
                template_format=spec.template_format,
                variables=spec.variables,
                model_config=content.model_config,
                message=spec.message or f"Synced from {path}",
            )
    except Conflict as exc:
        if exc.code != ErrorCode.UNCHANGED:  # else a concurrent sync wrote the same content
            raise
        return
    result.version = version.number
    result.changes.append("version")


def _promote(
    *, actor: Principal, prompt: Prompt, environment: Environment, justification: str
) -> dict:
    version = PromptVersion.objects.filter(prompt=prompt).order_by("-number").first()
    answer: dict[str, Any] = {"environment": environment.slug, "version": version.number}
    if Deployment.objects.filter(prompt=prompt, environment=environment, version=version).exists():
        return answer | {"status": "deployed", "opened": False}
    pending = PromotionRequest.objects.filter(
        prompt=prompt,
        environment=environment,
        version=version,
        state=PromotionRequest.State.PENDING,
    ).first()
    if pending is not None:
        return answer | {"status": "pending", "opened": False, "request": pending.pk}
    try:
        with transaction.atomic():
            request = promotion_request(
                actor=actor,
                prompt=prompt,
                version=version,
                environment=environment,
                justification=justification,
            )
    except DomainError as exc:
        failed = {"status": "failed", "opened": False, "code": str(exc.code), "error": exc.detail}
        return answer | failed
    return answer | {
        "status": request.state,
        "opened": True,
        "request": request.pk,
        "required_approvals": request.required_approvals,
    }
