"""Latency histograms in log-scale buckets (DDSketch's logarithmic mapping).

A latency x > 0 ms falls in bucket i = ceil(log_γ(x)) with γ = (1 + α) / (1 − α), α = 0.01:
bucket i holds (γ^(i−1), γ^i]. Every value of a bucket is read back as 2γ^i / (γ + 1), which is
within α of any value in it, so each order statistic read from the histogram has a relative
error of at most α (1 %). Zero (and anything ≤ 0) is counted in ZERO_BUCKET and read back as 0.

A quantile q is read like the exact path (numpy's default, PostgreSQL's percentile_cont):
linear interpolation between the order statistics at ranks floor(h) and ceil(h), h = q·(n − 1).
Both are within α of the true order statistics, so the interpolated value is too.
"""

import math
from collections.abc import Iterable, Mapping

ALPHA = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
LN_GAMMA = math.log(GAMMA)
# Below any bucket a positive double reaches (ln(5e-324) / ln γ ≈ −37,000).
ZERO_BUCKET = -1_000_000
RELATIVE_ERROR = ALPHA

Histogram = dict[int, int]


def bucket_of(latency_ms: float) -> int:
    if latency_ms <= 0:
        return ZERO_BUCKET
    return math.ceil(math.log(latency_ms) / LN_GAMMA)


def bucket_bounds(index: int) -> tuple[float, float]:
    """(lower, upper] of a bucket in ms; the zero bucket is (0, 0)."""
    if index == ZERO_BUCKET:
        return (0.0, 0.0)
    return (GAMMA ** (index - 1), GAMMA**index)


def bucket_value(index: int) -> float:
    """The value a bucket stands for: within ALPHA of everything in it."""
    if index == ZERO_BUCKET:
        return 0.0
    return 2 * GAMMA**index / (GAMMA + 1)


def histogram_of(latencies: Iterable[float]) -> Histogram:
    histogram: Histogram = {}
    for latency in latencies:
        index = bucket_of(latency)
        histogram[index] = histogram.get(index, 0) + 1
    return histogram


def merge(into: Histogram, other: Mapping[int, int]) -> Histogram:
    for index, count in other.items():
        into[int(index)] = into.get(int(index), 0) + count
    return into


def quantile(histogram: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) read from a histogram; None when it is empty."""
    items = sorted((int(index), count) for index, count in histogram.items() if count > 0)
    total = sum(count for _, count in items)
    if total == 0:
        return None
    rank = q * (total - 1)
    low, high = math.floor(rank), math.ceil(rank)
    low_value = high_value = None
    seen = 0
    for index, count in items:
        seen += count
        if low_value is None and low < seen:
            low_value = bucket_value(index)
        if high < seen:
            high_value = bucket_value(index)
            break
    return low_value + (rank - low) * (high_value - low_value)
