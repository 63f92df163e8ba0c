"""Reads of the comparison views: a prompt's version × model matrix (one per suite: pass rates
of different suites are not comparable, so they are never added up) and two runs compared case
by case.

A cell is the latest finished run (passed, failed or error; a cancelled run is left out) of
its suite, version and model, found in one query with a window function.
"""

from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.urls import NoReverseMatch, reverse

from prompts import diffs
from prompts.evaluations.models import CaseResult, Model, Run, Suite
from prompts.models import Prompt

FINISHED = (Run.State.PASSED, Run.State.FAILED, Run.State.ERROR)
# Pass-rate bands of the coloured table: green meets the run's threshold, amber is at most
# AMBER_BELOW under it, red further.
AMBER_BELOW = 0.2


def band(*, pass_rate: float | None, threshold: float) -> str:
    """`good`, `fair` or `poor` by the pass rate against the run's threshold; `none` without
    a pass rate (a run that ended in error before any case)."""
    if pass_rate is None:
        return "none"
    if pass_rate >= threshold:
        return "good"
    return "fair" if pass_rate >= threshold - AMBER_BELOW else "poor"


@dataclass(frozen=True)
class Cell:
    run: Run

    @property
    def band(self) -> str:
        return band(pass_rate=self.run.pass_rate, threshold=self.run.pass_threshold)


@dataclass
class SuiteMatrix:
    suite: Suite
    versions: list[int] = field(default_factory=list)  # newest first
    models: list[Model] = field(default_factory=list)
    cells: dict[tuple[int, int], Cell] = field(default_factory=dict)  # (version, model id)

    def cell(self, version: int, model: Model) -> Cell | None:
        return self.cells.get((version, model.pk))

    @property
    def rows(self) -> list[tuple[int, list[tuple[Model, Cell | None]]]]:
        return [
            (version, [(model, self.cell(version, model)) for model in self.models])
            for version in self.versions
        ]


def latest_runs(*, prompt: Prompt, suite_id: int | None = None) -> QuerySet[Run]:
    """The latest finished run per suite, version and model of the prompt."""
    runs = Run.objects.filter(prompt=prompt, state__in=FINISHED)
    if suite_id is not None:
        runs = runs.filter(suite_id=suite_id)
    ranked = runs.annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F("suite_id"), F("version_id"), F("model_id")],
            order_by=[F("finished_at").desc(nulls_last=True), F("pk").desc()],
        )
    )
    return (
        ranked.filter(rank=1)
        .select_related("version", "model", "suite")
        .order_by("suite__name", "-version__number", "model__name")
    )


def prompt_matrix(*, prompt: Prompt, suite_id: int | None = None) -> list[SuiteMatrix]:
    """One matrix per suite of the prompt (suites without a finished run included, empty)."""
    suites = Suite.objects.filter(prompt=prompt).order_by("name")
    if suite_id is not None:
        suites = suites.filter(pk=suite_id)
    matrices = {suite.pk: SuiteMatrix(suite=suite) for suite in suites}
    for run in latest_runs(prompt=prompt, suite_id=suite_id):
        matrix = matrices.get(run.suite_id)
        if matrix is None:
            continue
        if run.version.number not in matrix.versions:
            matrix.versions.append(run.version.number)
        if run.model not in matrix.models:
            matrix.models.append(run.model)
        matrix.cells[(run.version.number, run.model_id)] = Cell(run)
    for matrix in matrices.values():
        matrix.versions.sort(reverse=True)
        matrix.models.sort(key=lambda model: model.name)
    return list(matrices.values())


def run_url(run: Run) -> str:
    """The run's portal page."""
    try:
        return reverse("evaluations:run", args=[run.pk])
    except NoReverseMatch:
        return f"/evaluations/runs/{run.pk}/"


# --- Two runs, case by case ----------------------------------------------------------------


@dataclass(frozen=True)
class AssertionChange:
    type: str
    value: str
    a_passed: bool | None  # None: the assertion is not in that run's case
    b_passed: bool | None
    a_reason: str
    b_reason: str

    @property
    def changed(self) -> bool:
        return self.a_passed != self.b_passed


@dataclass(frozen=True)
class CasePair:
    position: int
    description: str
    a: CaseResult | None
    b: CaseResult | None
    output_diff: diffs.TextDiff
    assertions: tuple[AssertionChange, ...]

    @property
    def same_output(self) -> bool:
        return self.a is not None and self.b is not None and self.a.output == self.b.output

    @property
    def verdict_changed(self) -> bool:
        return (self.a.passed if self.a else None) != (self.b.passed if self.b else None)

    @property
    def assertion_changes(self) -> int:
        return sum(1 for change in self.assertions if change.changed)


def _key(assertion: dict[str, Any]) -> tuple[str, str]:
    return str(assertion.get("type", "")), diffs.compact_json(assertion.get("value"))


def _assertion_changes(a: CaseResult | None, b: CaseResult | None) -> tuple[AssertionChange, ...]:
    """Assertions paired by type and value, in order of appearance (a's first)."""
    left = [x for x in (a.assertions if a else []) if isinstance(x, dict)]
    right = [x for x in (b.assertions if b else []) if isinstance(x, dict)]
    pending = list(right)
    changes: list[AssertionChange] = []
    for item in left:
        match = next((other for other in pending if _key(other) == _key(item)), None)
        if match is not None:
            pending.remove(match)
        changes.append(_change(item, match))
    changes += [_change(None, item) for item in pending]
    return tuple(changes)


def _change(a: dict[str, Any] | None, b: dict[str, Any] | None) -> AssertionChange:
    either = a or b or {}
    kind, value = _key(either)
    return AssertionChange(
        type=kind,
        value=value,
        a_passed=bool(a.get("passed")) if a else None,
        b_passed=bool(b.get("passed")) if b else None,
        a_reason=str(a.get("reason") or "") if a else "",
        b_reason=str(b.get("reason") or "") if b else "",
    )


def compare_runs(*, a: Run, b: Run) -> list[CasePair]:
    """Per case the two results (paired by case, else by position), the output diff and the
    assertions whose outcome changed."""
    left = list(CaseResult.objects.filter(run=a).order_by("position"))
    right = list(CaseResult.objects.filter(run=b).order_by("position"))

    def key(result: CaseResult) -> tuple[str, int]:
        return ("case", result.case_id) if result.case_id else ("position", result.position)

    by_key = {key(result): result for result in right}
    pairs: list[tuple[CaseResult | None, CaseResult | None]] = []
    for result in left:
        pairs.append((result, by_key.pop(key(result), None)))
    pairs += [(None, result) for result in right if key(result) in by_key]
    found = []
    for x, y in pairs:
        either = x or y
        assert either is not None
        found.append(
            CasePair(
                position=either.position,
                description=either.description,
                a=x,
                b=y,
                output_diff=diffs.text_diff(x.output if x else "", y.output if y else ""),
                assertions=_assertion_changes(x, y),
            )
        )
    return found
