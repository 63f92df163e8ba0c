"""Writes of suites and their cases, each audited in its transaction.

Maintainers and owners of the prompt's namespace (and staff) write; the caller has already
found the prompt through `prompts.selectors.prompt_get`, so an invisible one is a 404 there.
A suite with runs is kept (its runs refer to it): deleting it is a 409. Cases written by hand
must be sound (`check_assertions`); an import keeps what it cannot run and reports it.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Max

from portal.audit.services import audit
from portal.errors import Conflict, ErrorCode, Invalid
from portal.transactions import atomic_write
from portal.validation import (
    check_json_value,
    check_note,
    check_text,
    clean_or_invalid,
    conflict_on_integrity_error,
)
from prompts.evaluations import promptfoo
from prompts.evaluations.assertions import check_assertions
from prompts.evaluations.models import Case, Run, Suite
from prompts.models import Prompt
from prompts.rendering import check_variables
from teams import permissions
from teams.permissions import Principal, require

UNSET: Any = object()
DESCRIPTION_CHARS = 500  # Case.description


@dataclass(frozen=True)
class CaseInput:
    description: str = ""
    variables: dict | None = None
    assertions: list | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class ImportResult:
    suite: Suite
    warnings: list[dict]  # {"case": position, "warnings": [...]}, only cases with some


def _require_edit(actor: Principal, prompt: Prompt) -> None:
    require(
        permissions.can_edit_prompts(actor, prompt.namespace),
        f"Only maintainers and owners of {prompt.namespace.team.slug} edit suites.",
    )


def _refuse_in_flight(suite: Suite) -> None:
    """A queued or running run reads the suite's cases: they change once it has finished."""
    if suite.runs.filter(state__in=[Run.State.QUEUED, Run.State.RUNNING]).exists():
        raise Conflict(
            f"A run of suite {suite.name} is in progress; change its cases when it has "
            "finished (or cancel it).",
            code=ErrorCode.CONFLICT,
        )


def _lock_suite(suite: Suite) -> Suite:
    return (
        Suite.objects.select_for_update(of=("self",))
        .select_related("prompt__namespace__team")
        .get(pk=suite.pk)
    )


def suite_state(suite: Suite) -> dict:
    return {
        "prompt": suite.prompt.full_name,
        "name": suite.name,
        "description": suite.description,
        "pass_threshold": suite.pass_threshold,
    }


def case_state(case: Case) -> dict:
    return {
        "suite": case.suite_id,
        "position": case.position,
        "description": case.description,
        "variables": case.variables,
        "assertions": case.assertions,
        "threshold": case.threshold,
    }


def _share(value: Any, *, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid.field(field, "Must be a number between 0 and 1.")
    if not 0 <= value <= 1:
        raise Invalid.field(field, "Must be between 0 and 1.")
    return float(value)


def _clean_case(data: CaseInput, *, strict: bool, field: str = "") -> CaseInput:
    prefix = f"{field}." if field else ""
    variables = {} if data.variables is None else data.variables
    assertions = [] if data.assertions is None else data.assertions
    if not isinstance(variables, dict):
        raise Invalid.field(f"{prefix}variables", "Variables must be an object.")
    if not isinstance(assertions, list):
        raise Invalid.field(f"{prefix}assertions", "Assertions must be a list.")
    check_json_value(variables, field=f"{prefix}variables")
    check_json_value(assertions, field=f"{prefix}assertions")
    if strict:
        problems = check_assertions(assertions)
        if problems:
            raise Invalid(problems[0], errors={f"{prefix}assertions": problems})
    description = check_text((data.description or "").strip(), field=f"{prefix}description")
    if len(description) > DESCRIPTION_CHARS:
        raise Invalid.field(
            f"{prefix}description", f"At most {DESCRIPTION_CHARS} characters are allowed."
        )
    threshold = data.threshold
    if threshold is not None:
        threshold = _share(threshold, field=f"{prefix}threshold")
    return CaseInput(
        description=description, variables=variables, assertions=assertions, threshold=threshold
    )


def _add_cases(suite: Suite, cases: Iterable[CaseInput]) -> list[Case]:
    start = (suite.cases.aggregate(top=Max("position"))["top"] or 0) + 1
    rows = [
        Case(
            suite=suite,
            position=start + offset,
            description=case.description,
            variables=case.variables or {},
            assertions=case.assertions or [],
            threshold=case.threshold,
        )
        for offset, case in enumerate(cases)
    ]
    return Case.objects.bulk_create(rows)


def _new_suite(
    *, actor: Principal, prompt: Prompt, name: str, description: str, pass_threshold: float
) -> Suite:
    suite = Suite(
        prompt=prompt,
        name=(name or "").strip(),
        description=check_note(description or "", field="description", what="The description"),
        pass_threshold=_share(pass_threshold, field="pass_threshold"),
        created_by=actor,
    )
    clean_or_invalid(suite, exclude=["prompt", "created_by"])
    if Suite.objects.filter(prompt=prompt, name=suite.name).exists():
        raise Conflict(
            f"{prompt.full_name} already has a suite named {suite.name}.",
            code=ErrorCode.ALREADY_EXISTS,
        )
    with conflict_on_integrity_error(f"{prompt.full_name} already has a suite {suite.name}."):
        suite.save()
    return suite


@atomic_write
def suite_create(
    *,
    actor: Principal,
    prompt: Prompt,
    name: str,
    description: str = "",
    pass_threshold: float = 1.0,
    cases: list[CaseInput] | None = None,
) -> Suite:
    _require_edit(actor, prompt)
    cleaned = [
        _clean_case(case, strict=True, field=f"cases[{index}]")
        for index, case in enumerate(cases or [])
    ]
    suite = _new_suite(
        actor=actor,
        prompt=prompt,
        name=name,
        description=description,
        pass_threshold=pass_threshold,
    )
    _add_cases(suite, cleaned)
    audit(
        actor=actor,
        action="suite.created",
        object_type="suite",
        object_id=suite.pk,
        namespace=prompt.namespace.slug,
        after={**suite_state(suite), "cases": len(cleaned)},
    )
    return suite


def _declared_variables(prompt: Prompt) -> set[str] | None:
    latest = prompt.versions.order_by("-number").first()
    return None if latest is None else {str(name) for name in latest.variables or []}


def _variable_warnings(declared: set[str] | None, variables: dict) -> list[str]:
    """The case will not render on the latest version: say so now (it is imported anyway)."""
    if declared is None:
        return []
    try:
        check_variables(declared=declared, given=variables)
    except Invalid as exc:
        return [
            f"Variables do not match the latest version's: {p}." for p in exc.errors["variables"]
        ]
    return []


@atomic_write
def suite_import(
    *, actor: Principal, prompt: Prompt, name: str, format: str, content: str
) -> ImportResult:
    """A promptfoo YAML or JSON Lines file becomes a new suite; warnings per case."""
    _require_edit(actor, prompt)
    if not isinstance(content, str) or not content.strip():
        raise Invalid.field("content", "The file is empty.")
    parsed = promptfoo.parse(format=format, content=content)
    cleaned = [
        _clean_case(
            CaseInput(
                description=case.description,
                variables=case.variables,
                assertions=case.assertions,
                threshold=case.threshold,
            ),
            strict=False,
            field=f"cases[{index}]",
        )
        for index, case in enumerate(parsed.cases)
    ]
    suite = _new_suite(
        actor=actor,
        prompt=prompt,
        name=name,
        description=parsed.description[:1000],
        pass_threshold=1.0,
    )
    rows = _add_cases(suite, cleaned)
    declared = _declared_variables(prompt)
    warnings = []
    for row, case in zip(rows, parsed.cases, strict=True):
        found = case.warnings + _variable_warnings(declared, case.variables)
        if found:
            warnings.append({"case": row.position, "warnings": found})
    audit(
        actor=actor,
        action="suite.imported",
        object_type="suite",
        object_id=suite.pk,
        namespace=prompt.namespace.slug,
        after={**suite_state(suite), "format": format, "cases": len(rows), "warnings": warnings},
    )
    return ImportResult(suite=suite, warnings=warnings)


@atomic_write
def suite_update(
    *,
    actor: Principal,
    suite: Suite,
    name: str = UNSET,
    description: str = UNSET,
    pass_threshold: float = UNSET,
) -> Suite:
    suite = _lock_suite(suite)
    _require_edit(actor, suite.prompt)
    before = suite_state(suite)
    if name is not UNSET:
        suite.name = (name or "").strip()
    if description is not UNSET:
        suite.description = check_note(
            description or "", field="description", what="The description"
        )
    if pass_threshold is not UNSET:
        suite.pass_threshold = _share(pass_threshold, field="pass_threshold")
    clean_or_invalid(suite, exclude=["prompt", "created_by"])
    if suite_state(suite) == before:
        return suite
    if Suite.objects.filter(prompt=suite.prompt, name=suite.name).exclude(pk=suite.pk).exists():
        raise Conflict(
            f"{suite.prompt.full_name} already has a suite named {suite.name}.",
            code=ErrorCode.ALREADY_EXISTS,
        )
    suite.save()
    audit(
        actor=actor,
        action="suite.changed",
        object_type="suite",
        object_id=suite.pk,
        namespace=suite.prompt.namespace.slug,
        before=before,
        after=suite_state(suite),
    )
    return suite


@atomic_write
def suite_delete(*, actor: Principal, suite: Suite) -> None:
    suite = _lock_suite(suite)
    _require_edit(actor, suite.prompt)
    if suite.runs.exists():
        raise Conflict(
            f"The suite {suite.name} has evaluation runs, which keep it; it cannot be deleted.",
            code=ErrorCode.CONFLICT,
        )
    before = {**suite_state(suite), "cases": suite.cases.count()}
    pk = suite.pk
    suite.delete()
    audit(
        actor=actor,
        action="suite.deleted",
        object_type="suite",
        object_id=pk,
        namespace=suite.prompt.namespace.slug,
        before=before,
    )


@atomic_write
def case_create(*, actor: Principal, suite: Suite, data: CaseInput) -> Case:
    suite = _lock_suite(suite)
    _require_edit(actor, suite.prompt)
    _refuse_in_flight(suite)
    (case,) = _add_cases(suite, [_clean_case(data, strict=True)])
    audit(
        actor=actor,
        action="case.created",
        object_type="case",
        object_id=case.pk,
        namespace=suite.prompt.namespace.slug,
        after=case_state(case),
    )
    return case


def _lock_case(case: Case) -> Case:
    suite = _lock_suite(case.suite)
    case = Case.objects.select_for_update().get(pk=case.pk)
    case.suite = suite
    return case


@atomic_write
def case_update(*, actor: Principal, case: Case, data: CaseInput) -> Case:
    case = _lock_case(case)
    _require_edit(actor, case.suite.prompt)
    _refuse_in_flight(case.suite)
    cleaned = _clean_case(data, strict=True)
    before = case_state(case)
    case.description = cleaned.description
    case.variables = cleaned.variables or {}
    case.assertions = cleaned.assertions or []
    case.threshold = cleaned.threshold
    if case_state(case) == before:
        return case
    case.save()
    audit(
        actor=actor,
        action="case.changed",
        object_type="case",
        object_id=case.pk,
        namespace=case.suite.prompt.namespace.slug,
        before=before,
        after=case_state(case),
    )
    return case


@atomic_write
def case_delete(*, actor: Principal, case: Case) -> None:
    """Results of past runs keep their copy of the case (CaseResult.case becomes null)."""
    case = _lock_case(case)
    _require_edit(actor, case.suite.prompt)
    _refuse_in_flight(case.suite)
    before = case_state(case)
    pk = case.pk
    case.delete()
    audit(
        actor=actor,
        action="case.deleted",
        object_type="case",
        object_id=pk,
        namespace=case.suite.prompt.namespace.slug,
        before=before,
    )
