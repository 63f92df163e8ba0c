"""An experiment's results: per arm the metrics figures, and on the primary metric every arm
against the control (prompts.metrics.statistics), over the experiment's lifetime.

The figures come from `metrics_for(experiment=…, group=("arm",))` (its constant number of
queries); each arm's figure on a metric becomes a `statistics.Estimate` here, which the
guardrails reuse.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from prompts.metrics import statistics as st
from prompts.metrics.selectors import Figures, MetricsAnswer, metrics_for
from prompts.models import Experiment, ExperimentArm


def arm_estimate(metric: str, figures: Figures) -> st.Estimate:
    """One arm's figure on `metric` as an estimate with its variance."""
    f = figures
    if metric == "quality_score":
        return st.mean_estimate(n=f.quality_count, total=f.quality_sum, total_sq=f.quality_sumsq)
    if metric == "latency_ms":
        return st.mean_estimate(n=f.count, total=f.latency_sum, total_sq=f.latency_sumsq)
    if metric == "cost_usd":
        return st.mean_estimate(n=f.count, total=f.cost_sum, total_sq=f.cost_sumsq)
    if metric == "feedback":
        return st.rate_estimate(successes=f.feedback_positive, trials=f.feedback_count)
    if metric == "error_rate":
        return st.rate_estimate(successes=f.errors, trials=f.count)
    if metric == "latency_p95":
        exact = f.exact_latency or {}

        def quantile(q: float) -> float | None:
            return exact[q] if q in exact else f.latency_quantile(q)

        return st.quantile_estimate(n=sum(f.latency_histogram.values()), quantile=quantile)
    raise ValueError(f"Unknown metric {metric!r}.")


def _lifetime(experiment: Experiment) -> tuple[dt.datetime, dt.datetime]:
    """From the start to the stop (or now), widened by the clock drift events may have."""
    drift = dt.timedelta(seconds=settings.METRICS_MAX_FUTURE_SECONDS)
    start = experiment.started_at or experiment.created_at
    end = experiment.stopped_at or timezone.now()
    return start - drift, end + drift


def arms_of(experiment: Experiment) -> list[ExperimentArm]:
    """The arms, control first (prefetched ones are used as they are)."""
    arms = sorted(experiment.arms.all(), key=lambda arm: arm.label)
    return sorted(arms, key=lambda arm: not arm.is_control)


def experiment_metrics(*, experiment: Experiment) -> tuple[MetricsAnswer, dict[str, Figures]]:
    """The metrics answer of the experiment's events by arm, and each arm's figures (empty
    ones for an arm without events)."""
    start, end = _lifetime(experiment)
    answer = metrics_for(
        prompt=experiment.prompt,
        environment=experiment.environment,
        start=start,
        end=end,
        experiment=experiment,
        group=("arm",),
    )
    found = {group.key["arm"]: group.figures for group in answer.groups}
    return answer, {arm.label: found.get(arm.label) or Figures() for arm in arms_of(experiment)}


def experiment_analysis(
    *, experiment: Experiment, figures: dict[str, Figures], metric: str | None = None
) -> st.Analysis:
    metric = metric or experiment.primary_metric
    arms = []
    for arm in arms_of(experiment):
        of_arm = figures[arm.label]
        arms.append(st.Arm(arm.label, arm.weight, of_arm.count, arm_estimate(metric, of_arm)))
    # The experiment's MDE is in its primary metric's units; another metric takes the default.
    mde = experiment.minimum_detectable_effect if metric == experiment.primary_metric else None
    return st.analyse(metric=metric, arms=arms, minimum_detectable_effect=mde)


@dataclass
class ExperimentResults:
    experiment: Experiment
    arms: list[ExperimentArm]  # control first
    answer: MetricsAnswer  # grouped by arm
    figures: dict[str, Figures]  # per arm label (empty figures for an arm without events)
    analysis: st.Analysis  # the primary metric


def experiment_results(*, experiment: Experiment) -> ExperimentResults:
    """The results of an experiment the caller may read (the caller checked that)."""
    answer, figures = experiment_metrics(experiment=experiment)
    analysis = experiment_analysis(experiment=experiment, figures=figures)
    return ExperimentResults(experiment, arms_of(experiment), answer, figures, analysis)
