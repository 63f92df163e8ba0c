"""The log-bucket latency histogram: buckets, zero, and quantiles within the stated error of
numpy's (linear interpolation between closest ranks)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prompts.metrics import histogram


def test_a_value_falls_in_the_bucket_whose_bounds_hold_it():
    for value in (0.001, 0.5, 1.0, 1.02, 7.3, 250.0, 86_400_000.0):
        low, high = histogram.bucket_bounds(histogram.bucket_of(value))
        assert low < value <= high * (1 + 1e-12)
        assert abs(histogram.bucket_value(histogram.bucket_of(value)) / value - 1) <= 0.01


def test_zero_has_its_own_bucket_and_reads_back_as_zero():
    counts = histogram.histogram_of([0.0, 0.0, 0.0, 5.0])

    assert counts[histogram.ZERO_BUCKET] == 3
    assert histogram.bucket_bounds(histogram.ZERO_BUCKET) == (0.0, 0.0)
    assert histogram.quantile(counts, 0.5) == 0.0
    assert histogram.quantile(counts, 1.0) == pytest.approx(5.0, rel=0.01)


def test_an_empty_histogram_has_no_quantile():
    assert histogram.quantile({}, 0.5) is None


def test_merging_adds_counts():
    merged = histogram.merge(histogram.histogram_of([1, 2]), {"0": 3})

    assert merged[0] == 4
    assert sum(merged.values()) == 5


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.floats(min_value=0.01, max_value=1e7, allow_nan=False), min_size=1, max_size=300
    ),
    q=st.sampled_from([0.0, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0]),
)
def test_quantiles_are_within_the_relative_error(values, q):
    exact = float(np.percentile(values, q * 100))

    estimate = histogram.quantile(histogram.histogram_of(values), q)

    assert math.isclose(estimate, exact, rel_tol=histogram.RELATIVE_ERROR + 1e-9)
