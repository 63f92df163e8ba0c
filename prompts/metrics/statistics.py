"""Experiment statistics: each arm against the control on one metric (pure numpy/scipy).

Every metric becomes an `Estimate` per arm (a figure, the variance of that figure, its count),
and every comparison is about the difference D = arm − control, which is asymptotically normal
with variance V = V_arm + V_control:

- means (quality_score, latency_ms, cost_usd): Welch's t-test and its 95 % interval;
- rates (feedback positive rate, error_rate): the two-proportion z-test (pooled p-value, Wald
  interval);
- latency_p95: the difference of the p95s with a normal approximation. A sample quantile's
  asymptotic variance is p(1 − p) / (n f(q)²); 1/f(q) is read from the quantile function as the
  Siddiqui–Bloch–Gastwirth difference quotient (Q(p + h) − Q(p − h)) / 2h with Hall–Sheather's
  bandwidth h, so it works on exact values and on the log-bucket histogram alike.

The verdict is sequential (always valid, so looking every day costs nothing): the mixture SPRT
of Johari, Pekelis & Walsh (2017) on D with a normal mixture N(0, τ²) over the effect,
    Λ_τ = sqrt(V / (V + τ²)) · exp(τ² D² / (2 V (V + τ²))),
always-valid p = min(1, 1/Λ), and its inversion, the normal-mixture confidence sequence
(Howard, Ramdas, McAuliffe & Sekhon 2021; one τ²: D ± sqrt(2 V (V + τ²) / τ² · (log(1/α) +
½ log((V + τ²) / V)))). V is a plug-in estimate, so the guarantee is asymptotic (Waudby-Smith
et al. 2021). Λ is the mean of Λ_τ over τ² = MDE² · 4^j, j = 0–4 (a mean of martingales is
one, so still always valid). τ² = MDE² alone is (within 2 %) the τ² whose sequence is narrowest
at the sample a fixed-horizon test of the MDE needs (τ²/V ≈ 8 there), but it is slow to see an
effect many times the MDE (a 2 % error rate's default MDE is 0.2 points); the larger τ² see
those early, for a sequence about 8 % wider at the MDE. With k > 1 challengers the sequential
α is Bonferroni's α/k. The p-value is the current one, not the running minimum over past looks
(no history is kept): still valid, only not monotone.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import special, stats

from prompts.metrics.estimates import (  # noqa: F401 - part of this module's interface
    ALPHA,
    CLASSIC_METHOD,
    QUANTILE,
    Estimate,
    Inference,
    classic_test,
    hall_sheather_bandwidth,
    inference_of,
    mean_estimate,
    quantile_difference,
    quantile_estimate,
    rate_estimate,
    two_proportions,
    welch,
)

POWER = 0.80
SRM_ALPHA = 0.001
MIN_OBSERVATIONS = 100  # per arm, with the metric, before any verdict
MDE_SHARE = 0.10  # the default MDE: 10 % of the control's value
TAU_STEPS = 5  # the mixture's variances: MDE² · 4^j, j < TAU_STEPS

HIGHER_IS_BETTER = dict.fromkeys(("quality_score", "feedback"), True) | dict.fromkeys(
    ("latency_ms", "latency_p95", "cost_usd", "error_rate"), False
)
SEQUENTIAL_METHOD = (
    "mSPRT (Johari et al. 2017), normal mixtures τ² = MDE²·4^j, j = 0–4; its confidence sequence"
)

NOT_ENOUGH_DATA = "not enough data"
NO_DIFFERENCE = "no difference"
INVALID_SPLIT = "invalid split"


def mixture_tau2(effect: float) -> np.ndarray:
    """The mixing variances for an effect worth detecting: effect² · 4^j, j < TAU_STEPS."""
    return effect * effect * 4.0 ** np.arange(TAU_STEPS)


def _log_lambda(distance2, variance, tau2):
    """log of the mixture's likelihood ratio at squared distance (D − δ)², averaged over the
    τ² values (the last axis), for broadcastable numpy arrays."""
    v, t = np.asarray(variance, float)[..., None], np.atleast_1d(np.asarray(tau2, float))
    terms = 0.5 * np.log(v / (v + t)) + t * np.asarray(distance2, float)[..., None] / (
        2 * v * (v + t)
    )
    return special.logsumexp(terms, axis=-1) - math.log(t.size)


def msprt_p_value(difference, variance, tau2):
    """Always-valid p-value of H0: D = 0 (numpy-vectorised; variance > 0, every tau2 > 0)."""
    return np.exp(-np.maximum(_log_lambda(np.square(difference), variance, tau2), 0.0))


def confidence_sequence(difference, variance, tau2, alpha: float = ALPHA):
    """The (low, high) confidence sequence for D: the effects δ the mSPRT at level alpha does
    not reject (numpy-vectorised). One τ² has a closed form; several, a bisection between the
    closed forms of the smallest and largest radius."""
    difference, variance = np.asarray(difference, float), np.asarray(variance, float)
    t = np.atleast_1d(np.asarray(tau2, float))
    v = variance[..., None]
    single = 2 * v * (v + t) / t * (math.log(1 / alpha) + 0.5 * np.log((v + t) / v))
    low, high = single.min(axis=-1), single.max(axis=-1)
    for _ in range(0 if t.size == 1 else 60):
        middle = (low + high) / 2
        inside = _log_lambda(middle, variance, t) < math.log(1 / alpha)
        low, high = np.where(inside, middle, low), np.where(inside, high, middle)
    radius = np.sqrt(high)
    return difference - radius, difference + radius


def sequential_test(
    control: Estimate, arm: Estimate, *, tau2: np.ndarray | float, alpha: float = ALPHA
) -> Inference:
    difference = arm.value - control.value
    variance = control.variance + arm.variance
    if not variance > 0:  # both arms constant: the difference is known exactly
        return inference_of(difference, 0.0, float(difference == 0), "exact")
    low, high = confidence_sequence(difference, variance, tau2, alpha)
    p = msprt_p_value(difference, variance, tau2)
    return Inference(float(difference), float(low), float(high), float(p), SEQUENTIAL_METHOD)


@dataclass(frozen=True)
class SampleRatio:
    chi2: float | None
    p_value: float | None
    ok: bool


def sample_ratio_check(counts: Sequence[int], weights: Sequence[float]) -> SampleRatio:
    """Chi-square of observed calls per arm against the configured weights; a mismatch when
    p < SRM_ALPHA. Below 5 expected per arm the test says nothing (ok, no figures)."""
    total = sum(counts)
    expected = [total * weight / sum(weights) for weight in weights]
    if total == 0 or min(expected) < 5:
        return SampleRatio(None, None, True)
    chi2, p = stats.chisquare(list(counts), f_exp=expected)
    return SampleRatio(float(chi2), float(p), bool(p >= SRM_ALPHA))


def sample_size_per_arm(
    control: Estimate, arm: Estimate, mde: float, *, alpha: float = ALPHA, power: float = POWER
) -> int | None:
    """Fixed-horizon n per arm to detect `mde` (two-sided alpha, power): (z₁₋α/₂ + z_power)² ·
    (σ²_control + σ²_arm) / MDE². The sequential test usually needs somewhat more."""
    unit = control.unit_variance + arm.unit_variance
    if not (mde > 0 and math.isfinite(unit)):
        return None
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return math.ceil(z * z * unit / (mde * mde))


def default_mde(metric: str, control: Estimate, configured: float | None) -> float | None:
    """The experiment's MDE, else 10 % of the control's value (None when that is 0)."""
    if configured is not None and configured > 0:
        return float(configured)
    mde = MDE_SHARE * abs(control.value)
    return mde if mde > 0 else None


@dataclass(frozen=True)
class Arm:
    label: str
    weight: float
    calls: int  # every call of the arm: the SRM check's count
    estimate: Estimate


@dataclass
class Comparison:
    label: str
    control_value: float
    value: float
    n_control: int
    n: int
    classic: Inference | None = None
    sequential: Inference | None = None
    mde: float | None = None
    needed_per_arm: int | None = None
    verdict: str = NOT_ENOUGH_DATA
    explanation: str = ""

    @property
    def remaining_per_arm(self) -> int | None:
        if self.needed_per_arm is None:
            return None
        return max(self.needed_per_arm - min(self.n, self.n_control), 0)


@dataclass
class Analysis:
    metric: str
    control: str
    srm: SampleRatio
    comparisons: list[Comparison] = field(default_factory=list)
    verdict: str = NOT_ENOUGH_DATA
    explanation: str = ""


def _num(value: float) -> str:
    return f"{value:.4g}"


def _signed(value: float) -> str:
    return f"{value:+.4g}"


def _compare(
    metric: str, control: Arm, arm: Arm, *, mde_setting: float | None, alpha: float
) -> Comparison:
    c, a = control.estimate, arm.estimate
    mde = default_mde(metric, c, mde_setting)
    result = Comparison(arm.label, c.value, a.value, c.n, a.n, mde=mde)
    short = [x for x in (control, arm) if x.estimate.n < MIN_OBSERVATIONS]
    if short or not (math.isfinite(c.value) and math.isfinite(a.value)):
        who = ", ".join(f"{x.label} has {x.estimate.n}" for x in short) or "no figure yet"
        result.explanation = (
            f"Too few observations of {metric} ({who}; {MIN_OBSERVATIONS} per arm are needed "
            "before any verdict)."
        )
        return result
    result.classic = classic_test(c, a)
    if mde is None:
        result.explanation = (
            f"The control's {metric} is 0, so there is no default minimum detectable effect; "
            "set one on the experiment."
        )
        return result
    result.needed_per_arm = sample_size_per_arm(c, a, mde)
    sequential = result.sequential = sequential_test(c, a, tau2=mixture_tau2(mde), alpha=alpha)
    result.verdict, words = _verdict(metric, arm.label, sequential, mde)
    result.explanation = (
        f"{arm.label}'s {metric} is {_num(a.value)} against {control.label}'s {_num(c.value)} "
        f"({_signed(sequential.difference)}; always-valid {100 * (1 - alpha):.4g} % interval "
        f"{_signed(sequential.ci_low)} to {_signed(sequential.ci_high)}, "
        f"p {_num(sequential.p_value)}; {result.classic.method} p "
        f"{_num(result.classic.p_value)}). {words}"
    )
    if result.verdict == NOT_ENOUGH_DATA and result.needed_per_arm:
        result.explanation += (
            f" A fixed-horizon test of the MDE ±{_num(mde)} needs about {result.needed_per_arm} "
            f"per arm ({result.remaining_per_arm} more than the {min(c.n, a.n)} so far; "
            "sequential needs a bit more)."
        )
    return result


def _verdict(metric: str, label: str, sequential: Inference, mde: float) -> tuple[str, str]:
    low, high = sequential.ci_low, sequential.ci_high
    if low > 0 or high < 0:
        good = (low > 0) == HIGHER_IS_BETTER[metric]
        return (f"{label} better" if good else f"{label} worse"), (
            f"The interval excludes 0: {label} is {'better' if good else 'worse'}."
        )
    if -mde <= low and high <= mde:
        return NO_DIFFERENCE, (
            f"The interval includes 0 and lies within the MDE ±{_num(mde)}: no difference "
            "worth having."
        )
    return NOT_ENOUGH_DATA, "The interval still includes 0 and effects beyond the MDE."


def analyse(
    *,
    metric: str,
    arms: Sequence[Arm],
    minimum_detectable_effect: float | None = None,
    alpha: float = ALPHA,
) -> Analysis:
    """Every challenger (arms[1:]) against the control (arms[0]) on `metric`, with the SRM
    check and one overall verdict."""
    control, challengers = arms[0], list(arms[1:])
    srm = sample_ratio_check([arm.calls for arm in arms], [arm.weight for arm in arms])
    analysis = Analysis(metric=metric, control=control.label, srm=srm)
    per_arm_alpha = alpha / max(len(challengers), 1)
    for arm in challengers:
        comparison = _compare(
            metric, control, arm, mde_setting=minimum_detectable_effect, alpha=per_arm_alpha
        )
        if not srm.ok:
            comparison.verdict = INVALID_SPLIT
            comparison.explanation = _srm_words(srm, arms)
        analysis.comparisons.append(comparison)
    analysis.verdict, analysis.explanation = _overall(metric, analysis, arms)
    return analysis


def _srm_words(srm: SampleRatio, arms: Sequence[Arm]) -> str:
    observed = ", ".join(f"{arm.label} {arm.calls}" for arm in arms)
    weights = ":".join(f"{arm.weight:g}" for arm in arms)
    return (
        f"Sample-ratio mismatch: calls {observed} do not fit the weights {weights} "
        f"(chi-square {srm.chi2:.4g}, p {srm.p_value:.2g} < {SRM_ALPHA}). Assignment or "
        "reporting is broken, so no comparison can be trusted."
    )


def _overall(metric: str, analysis: Analysis, arms: Sequence[Arm]) -> tuple[str, str]:
    comparisons = analysis.comparisons
    if not analysis.srm.ok:
        return INVALID_SPLIT, _srm_words(analysis.srm, arms)
    sign = 1 if HIGHER_IS_BETTER[metric] else -1
    better = [c for c in comparisons if c.verdict.endswith(" better")]
    if better:
        best = max(better, key=lambda c: sign * (c.value - c.control_value))
        return best.verdict, best.explanation
    undecided = [c.explanation for c in comparisons if c.verdict == NOT_ENOUGH_DATA]
    if undecided or not comparisons:
        return NOT_ENOUGH_DATA, undecided[0] if undecided else "No challenger."
    worse = [c for c in comparisons if c.verdict.endswith(" worse")]
    if worse:
        labels = ", ".join(c.label for c in worse)
        return f"{labels} worse", " ".join(c.explanation for c in worse)
    return NO_DIFFERENCE, " ".join(c.explanation for c in comparisons)
