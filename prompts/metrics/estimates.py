"""Estimates of one arm's figure with their variances, and the classic (fixed-horizon) tests of
a difference: Welch's t-test, the two-proportion z-test, and a normal approximation for the
difference of p95s. The formulas: prompts.metrics.statistics' docstring, which uses these."""

import math
from collections.abc import Callable
from dataclasses import dataclass

from scipy import stats

ALPHA = 0.05
QUANTILE = 0.95
CLASSIC_METHOD = {
    "mean": "Welch's t-test",
    "rate": "two-proportion z-test",
    "quantile": "difference of p95s, normal approximation (Siddiqui–Bloch–Gastwirth density)",
}


@dataclass(frozen=True)
class Estimate:
    """One arm's figure on a metric. `variance` is the variance of `value` as an estimate;
    `unit_variance` is per observation (≈ n · variance), for Welch's df and sample sizes."""

    kind: str  # "mean" | "rate" | "quantile"
    value: float
    variance: float
    unit_variance: float
    n: int
    successes: int | None = None  # rates only


def mean_estimate(*, n: int, total: float, total_sq: float) -> Estimate:
    """A mean from a count, a sum and a sum of squares."""
    if n <= 0:
        return Estimate("mean", math.nan, math.nan, math.nan, 0)
    mean = total / n
    unit = max(total_sq - n * mean * mean, 0.0) / (n - 1) if n > 1 else math.nan
    return Estimate("mean", mean, unit / n, unit, n)


def rate_estimate(*, successes: int, trials: int) -> Estimate:
    """A proportion. Its variance adds one success and one failure (Agresti–Caffo), so it is
    never 0 when nothing (or everything) has happened yet."""
    if trials <= 0:
        return Estimate("rate", math.nan, math.nan, math.nan, 0, 0)
    adjusted = (successes + 1) / (trials + 2)
    unit = adjusted * (1 - adjusted)
    return Estimate("rate", successes / trials, unit / (trials + 2), unit, trials, successes)


def hall_sheather_bandwidth(n: int, p: float, alpha: float = ALPHA) -> float:
    z = stats.norm.ppf(p)
    ratio = 1.5 * stats.norm.pdf(z) ** 2 / (2 * z * z + 1)
    return n ** (-1 / 3) * stats.norm.ppf(1 - alpha / 2) ** (2 / 3) * ratio ** (1 / 3)


def quantile_estimate(
    *, n: int, quantile: Callable[[float], float | None], p: float = QUANTILE
) -> Estimate:
    """A sample quantile from any quantile reader (exact values or a histogram), with the
    asymptotic variance p(1 − p) / (n f(q)²)."""
    value = quantile(p) if n > 0 else None
    if value is None or n < 2:
        return Estimate("quantile", math.nan, math.nan, math.nan, n)
    h = hall_sheather_bandwidth(n, p)
    low, high = max(p - h, 0.5 / n), min(p + h, 1 - 0.5 / n)
    sparsity = (quantile(high) - quantile(low)) / (high - low)  # 1 / f(q)
    unit = p * (1 - p) * sparsity * sparsity
    return Estimate("quantile", value, unit / n, unit, n)


@dataclass(frozen=True)
class Inference:
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str


def inference_of(difference: float, half: float, p: float, method: str) -> Inference:
    d, half = float(difference), float(half)
    return Inference(d, d - half, d + half, float(min(max(p, 0.0), 1.0)), method)


def welch(control: Estimate, arm: Estimate, alpha: float = ALPHA) -> Inference:
    v_control, v_arm = control.variance, arm.variance
    variance = v_control + v_arm
    difference = arm.value - control.value
    if not variance > 0:
        return inference_of(difference, 0.0, float(difference == 0), CLASSIC_METHOD["mean"])
    df = variance**2 / (v_control**2 / (control.n - 1) + v_arm**2 / (arm.n - 1))
    t = difference / math.sqrt(variance)
    half = stats.t.ppf(1 - alpha / 2, df) * math.sqrt(variance)
    p = 2 * stats.t.sf(abs(t), df)
    return inference_of(difference, half, p, CLASSIC_METHOD["mean"])


def two_proportions(control: Estimate, arm: Estimate, alpha: float = ALPHA) -> Inference:
    """Pooled z for the p-value, unpooled (Wald) standard error for the interval."""
    n_c, n_a = control.n, arm.n
    difference = arm.value - control.value
    pooled = (control.successes + arm.successes) / (n_c + n_a)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_a))
    p = 2 * stats.norm.sf(abs(difference) / se_pooled) if se_pooled > 0 else 1.0
    wald = math.sqrt(control.value * (1 - control.value) / n_c + arm.value * (1 - arm.value) / n_a)
    half = stats.norm.ppf(1 - alpha / 2) * wald
    return inference_of(difference, half, p, CLASSIC_METHOD["rate"])


def quantile_difference(control: Estimate, arm: Estimate, alpha: float = ALPHA) -> Inference:
    difference = arm.value - control.value
    se = math.sqrt(control.variance + arm.variance)
    p = 2 * stats.norm.sf(abs(difference) / se) if se > 0 else float(difference == 0)
    half = stats.norm.ppf(1 - alpha / 2) * se
    return inference_of(difference, half, p, CLASSIC_METHOD["quantile"])


def classic_test(control: Estimate, arm: Estimate, alpha: float = ALPHA) -> Inference:
    test = {"mean": welch, "rate": two_proportions, "quantile": quantile_difference}
    return test[control.kind](control, arm, alpha)
