"""The evaluation gate of promotions: an environment with `requires_evaluation` takes a version
only when every suite of its prompt has a passing run of that version, on the model its
`model_config` names, finished within `EVALUATION_MAX_AGE_DAYS`.

A version whose `model_config` names no model is judged on `local` (the offline echo model).
A prompt without any suite does not pass: the gate asks for evaluation, not for its absence.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from portal.errors import Conflict, ErrorCode
from prompts.evaluations.models import Model, Run, Suite
from prompts.models import Environment, Prompt, PromptVersion

DEFAULT_MODEL = "local"

MISSING = "missing"
RUNNING = "running"
STALE = "stale"
FAILING = "failing"
PASSING = "passing"

FINISHED = [Run.State.PASSED, Run.State.FAILED, Run.State.ERROR]
IN_FLIGHT = [Run.State.QUEUED, Run.State.RUNNING]


@dataclass(frozen=True)
class SuiteGate:
    """One suite's standing: its last finished run (passed, failed or error; cancelled runs
    do not count) and whether a run is queued or running now."""

    suite: Suite
    state: str
    run: Run | None
    in_flight: Run | None

    @property
    def passing(self) -> bool:
        return self.state == PASSING

    @property
    def runnable(self) -> bool:
        """The gate's button starts a run for this suite."""
        return not self.passing and self.in_flight is None

    def describe(self) -> str:
        name = f"suite {self.suite.name!r}"
        if self.state == MISSING:
            return f"{name} has no run"
        if self.state == RUNNING:
            return f"{name} is running (run #{self.in_flight.pk})"
        if self.state == STALE:
            return f"{name} last passed in run #{self.run.pk}, older than the limit"
        if self.state == FAILING:
            return f"{name} {self.run.state} in run #{self.run.pk}"
        return f"{name} passed in run #{self.run.pk}"

    def as_json(self) -> dict:
        return {
            "suite": self.suite.pk,
            "name": self.suite.name,
            "state": self.state,
            "run": self.run.pk if self.run else None,
            "run_state": self.run.state if self.run else None,
            "running": self.in_flight.pk if self.in_flight else None,
        }


@dataclass(frozen=True)
class GateState:
    prompt: Prompt
    version: PromptVersion
    environment: Environment
    required: bool
    model_name: str
    model: Model | None
    max_age_days: int
    suites: list[SuiteGate] = field(default_factory=list)

    @property
    def blocking(self) -> list[SuiteGate]:
        return [suite for suite in self.suites if not suite.passing]

    @property
    def passed(self) -> bool:
        """Whether the gate lets the version in (always, where no evaluation is required)."""
        if not self.required:
            return True
        return self.model is not None and bool(self.suites) and not self.blocking

    @property
    def runnable(self) -> list[SuiteGate]:
        return [suite for suite in self.suites if suite.runnable] if self.model else []

    def reasons(self) -> list[str]:
        if self.model is None:
            return [
                f"model {self.model_name!r} (from the version's model_config) is not registered"
            ]
        if not self.suites:
            return [f"{self.prompt.full_name} has no evaluation suite"]
        return [suite.describe() for suite in self.blocking]

    def as_json(self) -> dict:
        return {
            "environment": self.environment.slug,
            "version": self.version.number,
            "required": self.required,
            "passed": self.passed,
            "model": self.model_name,
            "max_age_days": self.max_age_days,
            "suites": [suite.as_json() for suite in self.suites],
        }


def gate_model_name(*, version: PromptVersion) -> str:
    name = (version.model_config or {}).get("model")
    return name if isinstance(name, str) and name else DEFAULT_MODEL


def _suite_gate(
    suite: Suite, version: PromptVersion, model: Model, cutoff: dt.datetime
) -> SuiteGate:
    runs_here = Run.objects.filter(suite=suite, version=version, model=model)
    last = runs_here.filter(state__in=FINISHED).order_by("-finished_at", "-pk").first()
    in_flight = runs_here.filter(state__in=IN_FLIGHT).order_by("-pk").first()
    if last is None:
        state = RUNNING if in_flight else MISSING
    elif last.state != Run.State.PASSED:
        state = FAILING
    elif (last.finished_at or last.created_at) < cutoff:
        state = STALE
    else:
        state = PASSING
    if state in (STALE, FAILING) and in_flight:
        state = RUNNING
    return SuiteGate(suite=suite, state=state, run=last, in_flight=in_flight)


def gate_state(*, prompt: Prompt, version: PromptVersion, environment: Environment) -> GateState:
    """Per suite of the prompt, the missing, running, stale, failing or passing run of
    `version` on the model in its model_config."""
    model_name = gate_model_name(version=version)
    model = Model.objects.filter(name=model_name).first()
    max_age = settings.EVALUATION_MAX_AGE_DAYS
    cutoff = timezone.now() - dt.timedelta(days=max_age)
    suites = []
    if model is not None:
        for suite in Suite.objects.filter(prompt=prompt).order_by("name"):
            suites.append(_suite_gate(suite, version, model, cutoff))
    return GateState(
        prompt=prompt,
        version=version,
        environment=environment,
        required=environment.requires_evaluation,
        model_name=model_name,
        model=model,
        max_age_days=max_age,
        suites=suites,
    )


def gate_refusal(
    *, prompt: Prompt, version: PromptVersion, environment: Environment
) -> Conflict | None:
    """The 409 a promotion of `version` into `environment` meets now, or None."""
    if not environment.requires_evaluation:
        return None
    state = gate_state(prompt=prompt, version=version, environment=environment)
    if state.passed:
        return None
    detail = (
        f"{environment.slug} requires a passing evaluation of {prompt.full_name} "
        f"v{version.number} on {state.model_name} within {state.max_age_days} days: "
        + "; ".join(state.reasons())
        + "."
    )
    return Conflict(detail, code=ErrorCode.EVALUATION_GATE, extensions={"gate": state.as_json()})
