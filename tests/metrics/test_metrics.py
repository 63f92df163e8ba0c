"""GET …/metrics/ and metrics_for, checked against figures computed here from the raw events
with numpy; the rollup, its histograms and their stated error."""

import datetime as dt
import random
from collections import defaultdict

import numpy as np
import pytest
from django.utils import timezone

from prompts.metrics import histogram, rollups
from prompts.metrics.models import DirtyHour, HourlyRollup
from prompts.metrics.selectors import metrics_for
from tests.api.conftest import problem
from tests.metrics.conftest import event, post

pytestmark = pytest.mark.django_db

URL = "/api/v1/prompts/support/refund-reply/metrics/"
MODELS = ("gpt-x", "claude-y")


def generate(world, n: int = 3000, seed: int = 7) -> list[dict]:
    """Random events over the last three days: versions 1–3 (1 and 2 also as arms A and B),
    two models, log-normal latencies, some zeros, missing quality and feedback."""
    rng = random.Random(seed)
    now = timezone.now()
    records = []
    for _ in range(n):
        version = rng.choice((1, 2, 3))
        record = event(
            version=version,
            model=rng.choice(MODELS),
            latency_ms=0.0 if rng.random() < 0.01 else rng.lognormvariate(5 + version / 4, 0.6),
            input_tokens=rng.randint(0, 500),
            output_tokens=rng.randint(0, 900),
            cost_usd=rng.random() / 100,
            quality_score=rng.random() if rng.random() < 0.7 else None,
            feedback=rng.choice((-1, 0, 1, None)),
            error=rng.random() < 0.05,
            occurred_at=(now - dt.timedelta(seconds=rng.uniform(60, 3 * 86400))).isoformat(),
        )
        if version in (1, 2) and rng.random() < 0.5:
            record.update(experiment=world.experiment.pk, arm="AB"[version - 1])
        records.append(record)
    for start in range(0, n, 1000):
        assert post(world.service, records[start : start + 1000]).json()["accepted"] == min(
            1000, n - start
        )
    return records


def key_of(record: dict, dimension: str):
    if dimension == "version":
        return record["version"]
    if dimension == "arm":
        return record.get("arm")
    if dimension == "day":
        return (
            dt.datetime.fromisoformat(record["occurred_at"]).astimezone(dt.UTC).date().isoformat()
        )
    return record["model"]


def expected(records: list[dict], group: tuple[str, ...]) -> dict[tuple, dict]:
    by_key = defaultdict(list)
    for record in records:
        by_key[tuple(key_of(record, d) for d in group)].append(record)
    figures = {}
    for key, rows in by_key.items():
        latency = np.array([r["latency_ms"] for r in rows])
        quality = [r["quality_score"] for r in rows if r.get("quality_score") is not None]
        positive = sum(r.get("feedback") == 1 for r in rows)
        negative = sum(r.get("feedback") == -1 for r in rows)
        figures[key] = {
            "count": len(rows),
            "p50": np.percentile(latency, 50),
            "p95": np.percentile(latency, 95),
            "p99": np.percentile(latency, 99),
            "mean": latency.mean(),
            "input": np.mean([r["input_tokens"] for r in rows]),
            "output": np.mean([r["output_tokens"] for r in rows]),
            "cost_total": sum(r["cost_usd"] for r in rows),
            "quality": np.mean(quality) if quality else None,
            "quality_count": len(quality),
            "positive": positive,
            "negative": negative,
            "rate": positive / (positive + negative) if positive + negative else None,
            "error_rate": np.mean([r.get("error", False) for r in rows]),
        }
    return figures


def fetch(client, **params) -> dict:
    now = timezone.now()
    params = {"from": (now - dt.timedelta(days=4)).isoformat(), "to": now.isoformat(), **params}
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def check(body: dict, records: list[dict], group: tuple[str, ...], tolerance: float) -> None:
    want = expected(records, group)
    got = {tuple(g[d] for d in group): g for g in body["groups"]}
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        assert g["count"] == w["count"]
        for name in ("p50", "p95", "p99"):
            assert g["latency_ms"][name] == pytest.approx(w[name], rel=tolerance, abs=1e-9)
        assert g["latency_ms"]["mean"] == pytest.approx(w["mean"])
        assert g["input_tokens"]["mean"] == pytest.approx(w["input"])
        assert g["output_tokens"]["mean"] == pytest.approx(w["output"])
        assert g["cost_usd"]["total"] == pytest.approx(w["cost_total"])
        assert g["cost_usd"]["mean"] == pytest.approx(w["cost_total"] / w["count"])
        assert g["quality_score"]["count"] == w["quality_count"]
        assert g["quality_score"]["mean"] == pytest.approx(w["quality"])
        assert (g["feedback"]["positive"], g["feedback"]["negative"]) == (
            w["positive"],
            w["negative"],
        )
        assert g["feedback"]["positive_rate"] == pytest.approx(w["rate"])
        assert g["error_rate"] == pytest.approx(w["error_rate"])


GROUPINGS = [("version",), ("arm",), ("day",), ("model",), ("day", "version")]


@pytest.fixture
def records(world):
    return generate(world)


@pytest.mark.parametrize("group", GROUPINGS, ids=",".join)
def test_exact_figures_match_numpy(world, records, group):
    body = fetch(world.service, group=",".join(group), exact="1")

    assert body["percentiles"] == "exact"
    check(body, records, group, tolerance=1e-9)


@pytest.mark.parametrize("group", GROUPINGS, ids=",".join)
def test_histogram_figures_are_within_the_stated_error(world, records, group):
    before = fetch(world.service, group=",".join(group))
    rollups.rollup_dirty_hours()
    after = fetch(world.service, group=",".join(group))

    for body in (before, after):
        assert body["percentiles"] == "histogram"
        assert body["relative_error"] == histogram.RELATIVE_ERROR <= 0.02
        check(body, records, group, tolerance=histogram.RELATIVE_ERROR)
    same = lambda body: [(g["count"], g["latency_ms"]["p95"]) for g in body["groups"]]  # noqa: E731
    assert same(before) == same(after)


def test_filters_environment_model_and_experiment(world, records):
    staging = [event(environment="staging", version=3), event(environment="staging", version=3)]
    post(world.service, staging)
    rollups.rollup_dirty_hours()

    by_env = fetch(world.service, environment="staging")
    by_model = fetch(world.service, model="gpt-x", exact="1")
    answer = metrics_for(
        prompt=world.prompt,
        start=timezone.now() - dt.timedelta(days=4),
        end=timezone.now(),
        experiment=world.experiment,
        group=("arm",),
    )

    assert [(g["version"], g["count"]) for g in by_env["groups"]] == [(3, 2)]
    gpt = [r for r in records + staging if r["model"] == "gpt-x"]
    check(by_model, gpt, ("version",), 1e-9)
    in_experiment = [r for r in records if r.get("arm")]
    assert {g.key["arm"]: g.figures.count for g in answer.groups} == {
        arm: sum(r["arm"] == arm for r in in_experiment) for arm in "AB"
    }


def test_the_rollup_run_twice_changes_nothing(world, records):
    assert rollups.rollup_dirty_hours() > 0
    first = list(HourlyRollup.objects.order_by("pk").values())

    assert rollups.rollup_dirty_hours() == 0
    hours = set(HourlyRollup.objects.values_list("hour", flat=True))
    for hour in hours:  # a recompute of every hour gives the same sums
        rollups.hours_recompute(prompt_id=world.prompt.pk, hours={hour})
    again = list(HourlyRollup.objects.order_by("pk").values())

    def by_key(rows):
        return {
            tuple(row[k] for k in ("version_id", "environment_id", "arm", "model", "hour")): row
            for row in rows
        }

    assert by_key(first).keys() == by_key(again).keys()
    for key, row in by_key(first).items():
        for name, value in row.items():
            if name not in ("id", "hour"):
                assert by_key(again)[key][name] == pytest.approx(value), name
    assert sum(row["count"] for row in first) == len(records)
    assert not DirtyHour.objects.exists()


def test_events_after_a_rollup_are_in_the_next_answer_and_run(world, records):
    rollups.rollup_dirty_hours()
    late = [event(version=3, latency_ms=1e6) for _ in range(5)]
    post(world.service, late)

    before = fetch(world.service, exact="0")
    rollups.rollup_dirty_hours()
    after = fetch(world.service, exact="0")

    for body in (before, after):
        check(body, records + late, ("version",), histogram.RELATIVE_ERROR)


def test_short_ranges_are_exact_by_default(world):
    post(world.service, [event(latency_ms=float(n)) for n in range(1, 11)])

    short = fetch(world.service, **{"from": (timezone.now() - dt.timedelta(hours=2)).isoformat()})
    long = fetch(world.service)

    assert short["percentiles"] == "exact"
    assert short["groups"][0]["latency_ms"]["p50"] == 5.5
    assert long["percentiles"] == "histogram"
    assert long["groups"][0]["latency_ms"]["p50"] == pytest.approx(5.5, rel=0.01)


def test_an_empty_range_answers_no_groups(world):
    body = fetch(world.service)

    assert body["groups"] == []
    assert body["prompt"] == "support/refund-reply"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group": "week"}, "group"),
        ({"group": "version,version"}, "group"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"exact": "maybe"}, "exact"),
        ({"from": "0001-01-01T00:00:00Z"}, "from"),
        ({"to": "9999-12-31T23:59:59Z"}, "to"),
        ({"environment": "nowhere"}, "environment"),
        ({"from": "2026-12-02T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, "from"),
    ],
)
def test_bad_parameters_are_problems_naming_the_field(world, params, field):
    response = world.service.get(URL, params)

    assert response.status_code == 422
    assert field in problem(response)["errors"]


def test_the_answer_costs_a_constant_number_of_queries(
    world, records, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12) as few:
        fetch(world.service, group="day,version")
    rollups.rollup_dirty_hours()
    for exact in ("0", "1"):
        with django_assert_max_num_queries(len(few.captured_queries)):
            fetch(world.service, group="day,version", exact=exact)
