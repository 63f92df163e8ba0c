"""GET /api/v1/experiments/{id}/results/ on events reported through POST /api/v1/events/: the
verdicts of known cases, the figures against numpy, the classic p-value against scipy, and a
constant number of queries. (Who may read: tests/api/test_permission_matrix_results.py.)"""

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone
from scipy import stats

from prompts.models import Experiment
from tests.metrics.conftest import event, post

pytestmark = pytest.mark.django_db

SEED = 13


def url(world) -> str:
    return f"/api/v1/experiments/{world.experiment.pk}/results/"


def report(world, arm: str, n: int, **columns) -> dict:
    """Post n events of `arm` (A runs v1, B v2); each column is a value or n values."""
    version = {"A": 1, "B": 2}[arm]
    records = []
    for i in range(n):
        fields = {k: (v[i] if isinstance(v, list | np.ndarray) else v) for k, v in columns.items()}
        fields = {k: v.item() if isinstance(v, np.generic) else v for k, v in fields.items()}
        records.append(
            event(
                version=version, experiment=world.experiment.pk, arm=arm, subject=f"s{i}", **fields
            )
        )
    for start in range(0, n, 1000):
        response = post(world.service, records[start : start + 1000])
        assert response.json()["accepted"] == len(records[start : start + 1000]), response.content
    return {"records": records}


def qualities(rng, mean: float, n: int) -> np.ndarray:
    return np.clip(rng.normal(mean, 0.15, n), 0, 1).round(4)


def test_a_clear_quality_winner_is_b_better(world):
    rng = np.random.default_rng(SEED)
    a, b = qualities(rng, 0.60, 400), qualities(rng, 0.72, 400)
    report(world, "A", 400, quality_score=a)
    report(world, "B", 400, quality_score=b)

    response = world.person.get(url(world))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["experiment"]["id"] == world.experiment.pk
    assert body["experiment"]["prompt"] == "support/refund-reply"
    assert body["experiment"]["environment"] == "production"
    assert body["experiment"]["arms"] == [
        {"arm": "A", "version": 1, "weight": 50, "control": True},
        {"arm": "B", "version": 2, "weight": 50, "control": False},
    ]
    arm_a, arm_b = body["arms"]
    assert (arm_a["arm"], arm_a["count"], arm_b["count"]) == ("A", 400, 400)
    assert arm_b["quality_score"]["mean"] == pytest.approx(b.mean())
    assert {"latency_ms", "cost_usd", "feedback", "error_rate"} <= set(arm_a)
    primary = body["primary_metric"]
    assert primary["verdict"] == "B better"
    assert primary["srm"]["ok"] is True
    (comparison,) = primary["comparisons"]
    assert comparison["difference"] == pytest.approx(b.mean() - a.mean())
    assert comparison["classic"]["test"] == "Welch's t-test"
    expected = stats.ttest_ind(b, a, equal_var=False)
    assert comparison["classic"]["p_value"] == pytest.approx(expected.pvalue, rel=1e-6)
    assert comparison["classic"]["ci95"][0] > 0
    assert comparison["sequential"]["method"].startswith("mSPRT")
    assert comparison["sequential"]["ci"][0] > 0
    assert comparison["sequential"]["p_value"] < 0.05
    assert comparison["verdict"] == "B better"
    assert "B's quality_score" in comparison["explanation"]


def test_few_events_are_not_enough_data(world):
    report(world, "A", 30, quality_score=0.5)
    report(world, "B", 25, quality_score=0.9)

    primary = world.service.get(url(world)).json()["primary_metric"]

    assert primary["verdict"] == "not enough data"
    comparison = primary["comparisons"][0]
    assert comparison["classic"] is None
    assert "A has 30, B has 25" in comparison["explanation"]


def test_an_arm_without_events_is_listed_with_empty_figures(world):
    report(world, "A", 3, quality_score=0.5)

    body = world.service.get(url(world)).json()

    assert [arm["arm"] for arm in body["arms"]] == ["A", "B"]
    assert [arm["count"] for arm in body["arms"]] == [3, 0]
    assert body["arms"][1]["quality_score"]["mean"] is None
    assert body["primary_metric"]["srm"] == {
        **body["primary_metric"]["srm"],
        "chi2": None,
        "p_value": None,
        "ok": True,
    }
    assert body["primary_metric"]["verdict"] == "not enough data"


def test_a_broken_split_is_an_invalid_split(world):
    rng = np.random.default_rng(SEED)
    report(world, "A", 700, quality_score=qualities(rng, 0.6, 700))
    report(world, "B", 500, quality_score=qualities(rng, 0.8, 500))

    body = world.service.get(url(world)).json()

    srm = body["primary_metric"]["srm"]
    assert srm["ok"] is False
    assert srm["chi2"] == pytest.approx(stats.chisquare([700, 500]).statistic)
    assert body["primary_metric"]["verdict"] == "invalid split"


def test_an_error_rate_rise_is_b_worse_with_the_z_test_named(world):
    Experiment.objects.filter(pk=world.experiment.pk).update(primary_metric="error_rate")
    report(world, "A", 1000, error=[i % 50 == 0 for i in range(1000)])  # 2 %
    report(world, "B", 1000, error=[i % 8 == 0 for i in range(1000)])  # 12.5 %

    primary = world.service.get(url(world)).json()["primary_metric"]

    assert primary["verdict"] == "B worse"
    comparison = primary["comparisons"][0]
    assert comparison["classic"]["test"] == "two-proportion z-test"
    assert comparison["difference"] == pytest.approx(0.125 - 0.02)
    assert primary["higher_is_better"] is False


def test_events_outside_the_experiments_lifetime_are_not_counted(world):
    started = timezone.now() - dt.timedelta(hours=2)
    Experiment.objects.filter(pk=world.experiment.pk).update(started_at=started)
    report(world, "A", 5, occurred_at=(started - dt.timedelta(hours=1)).isoformat())
    report(world, "A", 3)

    body = world.service.get(url(world)).json()

    assert body["arms"][0]["count"] == 3


def test_the_results_cost_a_constant_number_of_queries(world, django_assert_max_num_queries):
    rng = np.random.default_rng(SEED)
    report(world, "A", 200, quality_score=qualities(rng, 0.6, 200))
    report(world, "B", 200, quality_score=qualities(rng, 0.6, 200))
    with django_assert_max_num_queries(8) as few:  # experiment, arms, then metrics_for
        assert world.service.get(url(world)).status_code == 200
    queries = len(few)
    report(world, "A", 1500, quality_score=qualities(rng, 0.6, 1500))
    report(world, "B", 1500, quality_score=qualities(rng, 0.6, 1500))

    with django_assert_max_num_queries(queries):
        assert world.service.get(url(world)).status_code == 200


def test_a_p95_regression_read_from_the_histograms_is_b_worse(world):
    Experiment.objects.filter(pk=world.experiment.pk).update(primary_metric="latency_p95")
    report(world, "A", 1000, latency_ms=[100 + (i % 100) * 4 for i in range(1000)])
    report(world, "B", 1000, latency_ms=[100 + (i % 100) * 12 for i in range(1000)])

    body = world.service.get(url(world)).json()

    assert body["percentiles"] == "histogram"  # the experiment has run for a day
    comparison = body["primary_metric"]["comparisons"][0]
    assert comparison["classic"]["test"].startswith("difference of p95s, normal approximation")
    exact_a = np.quantile([100 + (i % 100) * 4 for i in range(1000)], 0.95)
    exact_b = np.quantile([100 + (i % 100) * 12 for i in range(1000)], 0.95)
    assert comparison["control_value"] == pytest.approx(exact_a, rel=0.01)
    assert comparison["difference"] == pytest.approx(exact_b - exact_a, rel=0.03)
    assert body["primary_metric"]["verdict"] == "B worse"
