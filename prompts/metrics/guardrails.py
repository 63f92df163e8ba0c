"""Experiment guardrails: what a guardrail may say (`guardrails_clean`), and the check that
stops an experiment whose guardrail is breached (`guardrails_evaluate`, the beat task's).

A guardrail names a metric and how much worse than the control an arm may be on it before the
experiment is stopped: `{"metric": "error_rate", "max_increase": 0.02}` (lower is better:
error rate, latency, cost) or `{"metric": "quality_score", "max_decrease": 0.05}` (higher is
better: quality, feedback). The amount is in the metric's units (a rate's is a fraction,
milliseconds for latency, dollars for cost).

A guardrail is breached when the always-valid confidence sequence of the difference arm −
control (prompts.metrics.statistics, mixture τ² = amount² · 4^j) lies wholly beyond the
allowed amount: its lower end above `max_increase`, or its upper end below −`max_decrease`,
with at least MIN_OBSERVATIONS of the metric in both arms. Checked every minute, a false stop
(an arm within its allowance) stays below 5 % per guardrail and arm however many looks there
are (asymptotically: the variance is a plug-in). A breach stops the experiment at once through
`prompts.experiments.experiment_stop` (cause guardrail, actor the portal): the control is
served on the next resolve, the stop is audited, and the team is told
(experiment.guardrail_breached) with what breached and the figures in the reason.
"""

import logging
import math
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch

from portal.errors import Conflict, ErrorCode, Invalid
from prompts.experiments import experiment_stop
from prompts.metrics import statistics as st
from prompts.metrics.results import arm_estimate, arms_of, experiment_metrics
from prompts.metrics.selectors import Figures
from prompts.models import Experiment, ExperimentArm

logger = logging.getLogger(__name__)

# The bad direction of each metric: the only bound a guardrail on it may set.
BAD_DIRECTION = {
    "quality_score": "max_decrease",
    "feedback": "max_decrease",
    "latency_ms": "max_increase",
    "latency_p95": "max_increase",
    "cost_usd": "max_increase",
    "error_rate": "max_increase",
}
# Metrics whose values are fractions (0..1): an allowed change above 1 could never breach.
FRACTIONS = frozenset({"quality_score", "feedback", "error_rate"})
MAX_GUARDRAILS = len(BAD_DIRECTION)


def _invalid(message: str) -> Invalid:
    return Invalid.field("guardrails", message)


def _clean_one(index: int, item: Any) -> dict[str, Any]:
    where = f"Guardrail {index + 1}"
    if not isinstance(item, dict):
        raise _invalid(f"{where} must be an object such as {{'metric': 'error_rate', ...}}.")
    metric = item.get("metric")
    if metric not in BAD_DIRECTION:
        names = ", ".join(BAD_DIRECTION)
        raise _invalid(f"{where}: metric must be one of {names} (got {metric!r}).")
    bound = BAD_DIRECTION[metric]
    unknown = sorted(set(item) - {"metric", bound})
    if unknown:
        wrong = {"max_increase", "max_decrease"} - {bound}
        if wrong & set(unknown):
            worse = "falls" if bound == "max_decrease" else "rises"
            raise _invalid(
                f"{where}: {metric} is worse when it {worse}, so its guardrail sets {bound}, "
                f"not {wrong.pop()}."
            )
        raise _invalid(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}.")
    if bound not in item:
        raise _invalid(f"{where}: {metric} needs {bound} (how much worse than the control).")
    amount = item[bound]
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount):
        raise _invalid(f"{where}: {bound} must be a number (got {amount!r}).")
    if amount <= 0:
        raise _invalid(f"{where}: {bound} must be greater than 0 (got {amount}).")
    if metric in FRACTIONS and amount >= 1:
        raise _invalid(f"{where}: {metric} is a fraction (0..1), so {bound} must be below 1.")
    return {"metric": metric, bound: float(amount)}


def guardrails_clean(value: Any) -> list[dict[str, Any]]:
    """The guardrails as stored: a list of `{"metric", "max_increase" | "max_decrease"}`, one
    per metric, amounts as floats. `None` means none. Raises `Invalid` (field `guardrails`)
    naming the first problem."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid("Guardrails must be a list of objects.")
    if len(value) > MAX_GUARDRAILS:
        raise _invalid(f"At most {MAX_GUARDRAILS} guardrails (one per metric).")
    cleaned = [_clean_one(index, item) for index, item in enumerate(value)]
    metrics = [item["metric"] for item in cleaned]
    repeated = sorted({metric for metric in metrics if metrics.count(metric) > 1})
    if repeated:
        raise _invalid(f"One guardrail per metric: {', '.join(repeated)} is given twice.")
    return cleaned


@dataclass(frozen=True)
class Breach:
    experiment_id: int
    metric: str
    bound: str  # "max_increase" | "max_decrease"
    allowed: float
    control: str
    arm: str
    control_value: float
    value: float
    n_control: int
    n: int
    ci_low: float  # the always-valid interval of arm − control
    ci_high: float

    def words(self) -> str:
        moved = "rose" if self.bound == "max_increase" else "fell"
        change = self.value - self.control_value
        return (
            f"{self.arm}'s {self.metric} {moved} by {abs(change):.4g} against "
            f"{self.control}'s (always-valid 95 % interval of the change {self.ci_low:+.4g} to "
            f"{self.ci_high:+.4g}; allowed {self.bound.removeprefix('max_')} {self.allowed:g}): "
            f"{self.control} {self.control_value:.4g} over {self.n_control}, {self.arm} "
            f"{self.value:.4g} over {self.n}."
        )


def guardrail_breaches(*, experiment: Experiment, figures: dict[str, Figures]) -> list[Breach]:
    """Every guardrail of the experiment that a challenger breaches, given the arms' figures."""
    arms = arms_of(experiment)
    control, challengers = arms[0], arms[1:]
    found = []
    for guardrail in experiment.guardrails:
        metric = guardrail["metric"]
        bound = "max_increase" if "max_increase" in guardrail else "max_decrease"
        allowed = float(guardrail[bound])
        base = arm_estimate(metric, figures[control.label])
        for arm in challengers:
            estimate = arm_estimate(metric, figures[arm.label])
            if min(base.n, estimate.n) < st.MIN_OBSERVATIONS:
                continue
            if not (math.isfinite(base.value) and math.isfinite(estimate.value)):
                continue
            sequence = st.sequential_test(base, estimate, tau2=st.mixture_tau2(allowed))
            beyond = (
                sequence.ci_low > allowed
                if bound == "max_increase"
                else sequence.ci_high < -allowed
            )
            if beyond:
                found.append(
                    Breach(
                        experiment.pk, metric, bound, allowed, control.label, arm.label,
                        base.value, estimate.value, base.n, estimate.n,
                        sequence.ci_low, sequence.ci_high,
                    )
                )  # fmt: skip
    return found


def _running_with_guardrails():
    arms = ExperimentArm.objects.select_related("version")
    return (
        Experiment.objects.filter(state=Experiment.State.RUNNING)
        .exclude(guardrails=[])
        .select_related("prompt__namespace__team", "environment")
        .prefetch_related(Prefetch("arms", queryset=arms))
        .order_by("pk")
    )


def guardrails_evaluate() -> list[Breach]:
    """Check every running experiment's guardrails; stop each one with a breach. Safe to run
    twice, and beside itself: a stopped experiment is skipped, and a stop that another writer
    made first is left as it is. Returns the breaches of the experiments it stopped."""
    stopped: list[Breach] = []
    for experiment in _running_with_guardrails():
        try:
            _, figures = experiment_metrics(experiment=experiment)
            breaches = guardrail_breaches(experiment=experiment, figures=figures)
            if not breaches:
                continue
            reason = "Guardrail breached. " + " ".join(b.words() for b in breaches)
            experiment_stop(
                actor=None,
                experiment=experiment,
                cause=Experiment.StopCause.GUARDRAIL,
                reason=reason,
            )
            stopped.extend(breaches)
        except Exception as exc:
            if isinstance(exc, Conflict) and exc.code == ErrorCode.EXPERIMENT_NOT_RUNNING:
                continue  # stopped meanwhile by another writer: nothing left to do
            # One experiment's failure never keeps the others' guardrails from being checked.
            logger.exception("Guardrails of experiment %s could not be evaluated", experiment.pk)
    return stopped
