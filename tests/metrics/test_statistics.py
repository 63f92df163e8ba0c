"""Experiment statistics on data whose answer is known, cross-checked against scipy, and the
simulation that proves the point of the sequential test: peeking every day at A/A data keeps
its false positives under 5 %, where the fixed-horizon test's pass 5 % by far."""

import math

import numpy as np
import pytest
from scipy import stats

from prompts.metrics import histogram
from prompts.metrics import statistics as st

SEED = 20261201


def means_arm(label: str, values: np.ndarray, weight: float = 50) -> st.Arm:
    estimate = st.mean_estimate(
        n=len(values), total=float(values.sum()), total_sq=float((values**2).sum())
    )
    return st.Arm(label, weight, len(values), estimate)


def rate_arm(label: str, successes: int, trials: int, weight: float = 50) -> st.Arm:
    return st.Arm(label, weight, trials, st.rate_estimate(successes=successes, trials=trials))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


# Known answers: means


def test_a_clear_quality_win_is_b_better(rng):
    control, challenger = rng.normal(0.70, 0.15, 2000), rng.normal(0.76, 0.15, 2000)

    analysis = st.analyse(
        metric="quality_score", arms=[means_arm("A", control), means_arm("B", challenger)]
    )

    (comparison,) = analysis.comparisons
    assert comparison.verdict == analysis.verdict == "B better"
    assert comparison.sequential.ci_low > 0
    assert comparison.classic.p_value < 1e-6
    assert "B's quality_score" in analysis.explanation
    assert "Welch's t-test" in analysis.explanation


def test_a_clear_latency_loss_is_b_worse_because_lower_is_better(rng):
    control, challenger = rng.gamma(4, 200, 3000), rng.gamma(4, 240, 3000)  # 800 vs 960 ms

    analysis = st.analyse(
        metric="latency_ms", arms=[means_arm("A", control), means_arm("B", challenger)]
    )

    assert analysis.verdict == "B worse"
    assert analysis.comparisons[0].sequential.ci_low > 0  # B − A is an increase


def test_the_same_distribution_with_plenty_of_data_is_no_difference(rng):
    control, challenger = rng.normal(0.70, 0.15, 20_000), rng.normal(0.70, 0.15, 20_000)

    analysis = st.analyse(
        metric="quality_score",
        arms=[means_arm("A", control), means_arm("B", challenger)],
        minimum_detectable_effect=0.02,
    )

    comparison = analysis.comparisons[0]
    assert analysis.verdict == "no difference"
    assert -0.02 <= comparison.sequential.ci_low < 0 < comparison.sequential.ci_high <= 0.02


def test_a_small_sample_is_not_enough_data(rng):
    analysis = st.analyse(
        metric="quality_score",
        arms=[means_arm("A", rng.normal(0.7, 0.15, 99)), means_arm("B", rng.normal(0.9, 0.1, 99))],
    )

    assert analysis.verdict == "not enough data"
    assert "B has 99" in analysis.explanation
    assert analysis.comparisons[0].classic is None


def test_an_undecided_test_says_how_many_more_are_needed(rng):
    control, challenger = rng.normal(0.70, 0.15, 300), rng.normal(0.71, 0.15, 300)

    analysis = st.analyse(
        metric="quality_score",
        arms=[means_arm("A", control), means_arm("B", challenger)],
        minimum_detectable_effect=0.02,
    )

    comparison = analysis.comparisons[0]
    assert analysis.verdict == "not enough data"
    assert comparison.needed_per_arm > 300
    assert f"about {comparison.needed_per_arm} per arm" in analysis.explanation


def test_the_default_mde_is_ten_percent_of_the_control(rng):
    control = means_arm("A", rng.normal(0.5, 0.1, 500))

    analysis = st.analyse(
        metric="quality_score", arms=[control, means_arm("B", rng.normal(0.5, 0.1, 500))]
    )

    assert analysis.comparisons[0].mde == pytest.approx(0.1 * control.estimate.value)


# Known answers: rates


def test_a_clear_error_rate_rise_is_b_worse():
    analysis = st.analyse(
        metric="error_rate", arms=[rate_arm("A", 100, 5000), rate_arm("B", 250, 5000)]
    )

    assert analysis.verdict == "B worse"
    assert "two-proportion z-test" in analysis.explanation


def test_a_clear_feedback_win_is_b_better_and_the_best_of_several_wins_overall():
    arms = [
        rate_arm("A", 3000, 5000, 34),
        rate_arm("B", 3300, 5000, 33),
        rate_arm("C", 3500, 5000, 33),
    ]

    analysis = st.analyse(metric="feedback", arms=arms)

    assert [c.verdict for c in analysis.comparisons] == ["B better", "C better"]
    assert analysis.verdict == "C better"


def test_equal_rates_with_plenty_of_data_are_no_difference():
    analysis = st.analyse(
        metric="error_rate",
        arms=[rate_arm("A", 2000, 100_000), rate_arm("B", 2010, 100_000)],
        minimum_detectable_effect=0.005,
    )

    assert analysis.verdict == "no difference"


def test_no_errors_in_either_arm_is_not_a_zero_width_certainty():
    analysis = st.analyse(
        metric="error_rate",
        arms=[rate_arm("A", 0, 200), rate_arm("B", 0, 200)],
        minimum_detectable_effect=0.01,
    )

    comparison = analysis.comparisons[0]
    assert comparison.sequential.ci_low < 0 < comparison.sequential.ci_high
    assert analysis.verdict == "not enough data"


# Sample-ratio mismatch


def test_a_broken_split_is_invalid_whatever_the_metric_says():
    arms = [rate_arm("A", 100, 5000), rate_arm("B", 400, 5600)]  # 50/50 configured

    analysis = st.analyse(metric="error_rate", arms=arms)

    assert analysis.srm.ok is False
    assert analysis.verdict == analysis.comparisons[0].verdict == "invalid split"
    assert "Sample-ratio mismatch" in analysis.explanation


def test_the_srm_check_is_scipys_chi_square_against_the_weights():
    counts, weights = [2100, 3050, 4850], [20, 30, 50]

    check = st.sample_ratio_check(counts, weights)

    expected = np.array(weights) / 100 * sum(counts)
    assert check.chi2 == pytest.approx(((np.array(counts) - expected) ** 2 / expected).sum())
    assert check.p_value == pytest.approx(stats.chi2.sf(check.chi2, 2))
    assert check.ok is (check.p_value >= 0.001)


def test_a_split_within_chance_passes_and_tiny_counts_say_nothing():
    assert st.sample_ratio_check([5030, 4970], [50, 50]).ok is True
    assert st.sample_ratio_check([3, 0], [50, 50]) == st.SampleRatio(None, None, True)


# Classic figures against scipy computed here


def test_welch_matches_scipy_on_the_raw_values(rng):
    control, challenger = rng.normal(10, 3, 400), rng.normal(10.6, 5, 250)

    ours = st.welch(means_arm("A", control).estimate, means_arm("B", challenger).estimate)

    theirs = stats.ttest_ind(challenger, control, equal_var=False)
    interval = theirs.confidence_interval(0.95)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((interval.low, interval.high), rel=1e-9)
    assert ours.difference == pytest.approx(challenger.mean() - control.mean())


def test_the_two_proportion_z_test_matches_scipys_chi_square_without_correction():
    ours = st.two_proportions(
        st.rate_estimate(successes=120, trials=2000), st.rate_estimate(successes=160, trials=2100)
    )

    table = [[160, 2100 - 160], [120, 2000 - 120]]
    _, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert ours.p_value == pytest.approx(p, rel=1e-9)
    p_a, p_b = 120 / 2000, 160 / 2100
    half = stats.norm.ppf(0.975) * math.sqrt(p_a * (1 - p_a) / 2000 + p_b * (1 - p_b) / 2100)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((p_b - p_a - half, p_b - p_a + half))


def test_the_fixed_horizon_sample_size_gives_eighty_percent_power():
    control = st.rate_estimate(successes=1000, trials=10_000)
    challenger = st.rate_estimate(successes=1100, trials=10_000)

    n = st.sample_size_per_arm(control, challenger, 0.01)

    se = math.sqrt((control.unit_variance + challenger.unit_variance) / n)
    power = stats.norm.sf(stats.norm.ppf(0.975) - 0.01 / se)
    assert power == pytest.approx(0.80, abs=0.002)
    assert 14_000 < n < 15_500  # the textbook ≈ 7.85 · (0.09 + 0.099) / 0.01²


# p95


def test_the_p95_variance_matches_the_exponential_distributions_theory(rng):
    """Exponential(mean 100): f(q95) = 0.05 / 100, so sd(p95) = sqrt(.95 · .05 / n) / f."""
    n = 20_000
    values = rng.exponential(100, n)

    exact = st.quantile_estimate(n=n, quantile=lambda q: float(np.quantile(values, q)))
    buckets = histogram.histogram_of(values)
    from_histogram = st.quantile_estimate(n=n, quantile=lambda q: histogram.quantile(buckets, q))

    theory = math.sqrt(0.95 * 0.05 / n) / (0.05 / 100)
    assert exact.value == pytest.approx(100 * math.log(20), rel=0.03)
    assert math.sqrt(exact.variance) == pytest.approx(theory, rel=0.15)
    assert math.sqrt(from_histogram.variance) == pytest.approx(theory, rel=0.15)
    assert from_histogram.value == pytest.approx(exact.value, rel=0.02)


def test_a_clear_p95_regression_is_b_worse(rng):
    def arm(label, values):
        estimate = st.quantile_estimate(
            n=len(values), quantile=lambda q: float(np.quantile(values, q))
        )
        return st.Arm(label, 50, len(values), estimate)

    analysis = st.analyse(
        metric="latency_p95",
        arms=[arm("A", rng.exponential(100, 5000)), arm("B", rng.exponential(130, 5000))],
    )

    assert analysis.verdict == "B worse"
    assert "normal approximation" in analysis.comparisons[0].classic.method


# Peeking every day at A/A data


EXPERIMENTS, DAYS = 1000, 30


def daily_rates(rng, rate: float, per_day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative successes of two arms with the same rate, per experiment and day."""
    shape = (EXPERIMENTS, DAYS)
    control = rng.binomial(per_day, rate, shape).cumsum(axis=1)
    challenger = rng.binomial(per_day, rate, shape).cumsum(axis=1)
    return control, challenger, per_day * np.arange(1, DAYS + 1)


def rate_variance(successes: np.ndarray, n: np.ndarray) -> np.ndarray:
    adjusted = (successes + 1) / (n + 2)  # as rate_estimate
    return adjusted * (1 - adjusted) / (n + 2)


def test_daily_peeking_at_aa_rates_keeps_the_sequential_false_positives_under_five_percent(rng):
    control, challenger, n = daily_rates(rng, 0.10, 200)
    difference = challenger / n - control / n
    variance = rate_variance(control, n) + rate_variance(challenger, n)
    tau2 = st.mixture_tau2(st.MDE_SHARE * 0.10)

    sequential = st.msprt_p_value(difference, variance, tau2)
    low, high = st.confidence_sequence(difference, variance, tau2)
    naive = 2 * stats.norm.sf(np.abs(difference) / np.sqrt(variance))

    sequential_rate = (sequential < 0.05).any(axis=1).mean()
    assert sequential_rate < 0.05
    assert ((low > 0) | (high < 0)).any(axis=1).mean() == sequential_rate  # the same test
    assert (naive < 0.05).any(axis=1).mean() > 0.15  # fixed-horizon peeking: ≈ 25–30 %
    assert (naive[:, -1] < 0.05).mean() < 0.07  # looked at once, it is fine


def test_daily_peeking_at_aa_means_keeps_the_sequential_false_positives_under_five_percent(rng):
    shape, per_day = (EXPERIMENTS, DAYS, 2), 150
    # Per day and arm: the sum and sum of squares of per_day skewed (gamma) latencies.
    values = rng.gamma(2.0, 400.0, (*shape, per_day))
    sums, squares = values.sum(-1).cumsum(1), (values**2).sum(-1).cumsum(1)
    n = (per_day * np.arange(1, DAYS + 1))[None, :, None]
    means = sums / n
    unit = (squares - n * means**2) / (n - 1)
    difference = means[..., 1] - means[..., 0]
    variance = (unit / n).sum(-1)
    tau2 = st.mixture_tau2(st.MDE_SHARE * 800.0)

    sequential = st.msprt_p_value(difference, variance, tau2)
    naive = 2 * stats.norm.sf(np.abs(difference) / np.sqrt(variance))

    assert (sequential < 0.05).any(axis=1).mean() < 0.05
    assert (naive < 0.05).any(axis=1).mean() > 0.15


def test_the_confidence_sequence_covers_a_real_effect_at_every_look(rng):
    shape = (EXPERIMENTS, DAYS)
    control = rng.binomial(500, 0.10, shape).cumsum(axis=1)
    challenger = rng.binomial(500, 0.12, shape).cumsum(axis=1)
    n = 500 * np.arange(1, DAYS + 1)
    difference = challenger / n - control / n
    variance = rate_variance(control, n) + rate_variance(challenger, n)

    low, high = st.confidence_sequence(difference, variance, st.mixture_tau2(0.01))

    missed = ((low > 0.02) | (high < 0.02)).any(axis=1).mean()
    assert missed < 0.05
    assert (low[:, -1] > 0).mean() > 0.8  # and it finds the effect (twice the MDE) by day 30
