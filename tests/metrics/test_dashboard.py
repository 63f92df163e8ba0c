"""The metrics dashboard page: who sees it, its filters, the summary table checked against
figures computed here from the ingested events, the pygal charts, the empty state and a query
count that stays flat with more versions and days."""

import datetime as dt
import random
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from prompts.metrics import histogram, rollups
from prompts.metrics.models import DirtyHour, HourlyRollup
from tests.factories import UserFactory
from tests.metrics.conftest import event, post

pytestmark = pytest.mark.django_db

URL = "/prompts/support/refund-reply/metrics/"
SVG_NS = "{http://www.w3.org/2000/svg}"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ingest(world, records: list[dict]) -> list[dict]:
    for start in range(0, len(records), 1000):
        body = post(world.service, records[start : start + 1000]).json()
        assert body["rejected"] == [], body
    return records


def random_events(n: int = 600, seed: int = 3, days: float = 6.0, **fields) -> list[dict]:
    """Versions 1–3 over the last `days` days: log-normal latencies, some without quality or
    feedback, a few errors."""
    rng = random.Random(seed)
    now = timezone.now()
    records = []
    for _ in range(n):
        version = rng.choice((1, 2, 3))
        records.append(
            event(
                version=version,
                latency_ms=rng.lognormvariate(5 + version / 4, 0.5),
                input_tokens=rng.randint(0, 400),
                output_tokens=rng.randint(0, 800),
                cost_usd=rng.random() / 100,
                quality_score=rng.random() if rng.random() < 0.7 else None,
                feedback=rng.choice((-1, 0, 1)),
                error=rng.random() < 0.05,
                occurred_at=(now - dt.timedelta(seconds=rng.uniform(60, days * 86400))).isoformat(),
                **fields,
            )
        )
    return records


def expected_per_version(records: list[dict]) -> dict[int, dict[str, float]]:
    figures = {}
    for version in sorted({r["version"] for r in records}):
        rows = [r for r in records if r["version"] == version]
        latency = np.array([r["latency_ms"] for r in rows])
        quality = [r["quality_score"] for r in rows if r["quality_score"] is not None]
        positive = sum(r["feedback"] == 1 for r in rows)
        negative = sum(r["feedback"] == -1 for r in rows)
        figures[version] = {
            "count": len(rows),
            "p50": np.percentile(latency, 50),
            "p95": np.percentile(latency, 95),
            "p99": np.percentile(latency, 99),
            "input_tokens": np.mean([r["input_tokens"] for r in rows]),
            "output_tokens": np.mean([r["output_tokens"] for r in rows]),
            "cost_total": sum(r["cost_usd"] for r in rows),
            "cost_mean": np.mean([r["cost_usd"] for r in rows]),
            "quality": np.mean(quality),
            "feedback": positive / (positive + negative),
            "error_rate": np.mean([r["error"] for r in rows]),
        }
    return figures


def table(response) -> dict[int, dict[str, float | int | None]]:
    """The summary table's raw figures per version (the cells the template rendered)."""
    return {
        row.version: {cell.key: cell.value for cell in row.cells}
        for row in response.context["rows"]
    }


def cell_texts(html: str) -> dict[tuple[int, str], str]:
    found = {}
    for version, row in re.findall(r'<tr data-version="(\d+)">(.*?)</tr>', html, re.S):
        for metric, text in re.findall(r'data-metric="([a-z_0-9]+)">([^<]*)', row):
            found[int(version), metric] = text.strip()
    return found


def charts(html: str) -> dict[str, ET.Element]:
    svgs = re.findall(r"<svg .*?</svg>", html, re.S)
    parsed = [ET.fromstring(svg) for svg in svgs]
    return {svg.get("data-chart"): svg for svg in parsed}


def legend(svg: ET.Element) -> list[str]:
    return [
        text.text
        for group in svg.iter(f"{SVG_NS}g")
        if "legend" in group.get("class", "").split()
        for text in group.iter(f"{SVG_NS}text")
    ]


def dots(svg: ET.Element) -> dict[int, int]:
    """Drawn points per series index (the plot overlay's circles)."""
    found: dict[int, int] = {}
    for group in svg.iter(f"{SVG_NS}g"):
        classes = group.get("class", "").split()
        if "series" in classes:
            index = int(next(c for c in classes if c.startswith("serie-"))[6:])
            found[index] = found.get(index, 0) + len(list(group.iter(f"{SVG_NS}circle")))
    return found


# --- who sees it --------------------------------------------------------------------------


def test_a_private_namespaces_prompt_is_404_for_an_outsider_like_a_missing_one(world):
    outsider = signed_in(world.reader)

    hidden = outsider.get("/prompts/secret/hidden/metrics/")
    missing = outsider.get("/prompts/secret/no-such-prompt/metrics/")

    assert hidden.status_code == missing.status_code == 404
    assert "Metrics of" not in hidden.content.decode()
    assert signed_in(world.secret_member).get("/prompts/secret/hidden/metrics/").status_code == 200


def test_any_signed_in_reader_of_an_internal_prompt_sees_it_and_anonymous_signs_in(world):
    assert reverse("metrics:dashboard", args=["support", "refund-reply"]) == URL
    assert signed_in(world.reader).get(URL).status_code == 200
    assert signed_in(UserFactory()).get(URL).status_code == 200

    anonymous = Client().get(URL)

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login/")


# --- the figures ---------------------------------------------------------------------------


def test_the_table_equals_figures_computed_from_the_events_exact_path(world, settings):
    settings.METRICS_EXACT_MAX_HOURS = 24 * 100
    records = ingest(world, random_events())

    response = signed_in(world.reader).get(URL)

    assert response.status_code == 200
    assert response.context["summary"].percentiles == "exact"
    assert "exact, computed from every call" in response.content.decode()
    shown = table(response)
    for version, figures in expected_per_version(records).items():
        assert shown[version]["count"] == figures["count"]
        for metric, value in figures.items():
            assert shown[version][metric] == pytest.approx(value, rel=1e-9), (version, metric)


def test_the_table_from_the_histogram_is_within_its_stated_error(world):
    records = ingest(world, random_events(seed=11))

    response = signed_in(world.reader).get(URL)

    assert response.context["summary"].percentiles == "histogram"
    assert "within 1 % of the exact value" in response.content.decode()
    shown = table(response)
    for version, figures in expected_per_version(records).items():
        for metric, value in figures.items():
            tolerance = histogram.RELATIVE_ERROR if metric in ("p50", "p95", "p99") else 1e-9
            assert shown[version][metric] == pytest.approx(value, rel=tolerance), (version, metric)


def test_the_table_reads_the_same_figures_from_the_rollup(world):
    records = ingest(world, random_events(n=300, seed=17))
    reader = signed_in(world.reader)
    before = table(reader.get(URL))

    rollups.rollup_dirty_hours()
    after = table(reader.get(URL))

    assert HourlyRollup.objects.filter(prompt=world.prompt).exists()
    assert not DirtyHour.objects.filter(prompt=world.prompt).exists()
    for version, figures in expected_per_version(records).items():
        assert after[version]["count"] == figures["count"]
        for metric in figures:
            assert after[version][metric] == pytest.approx(before[version][metric], rel=1e-9)


def test_the_cells_show_the_figures_rounded(world, settings):
    settings.METRICS_EXACT_MAX_HOURS = 24 * 100
    records = ingest(world, random_events(n=90))
    figures = expected_per_version(records)

    texts = cell_texts(signed_in(world.reader).get(URL).content.decode())

    for version, expected in figures.items():
        assert texts[version, "count"] == str(expected["count"])
        assert texts[version, "p95"] == f"{expected['p95']:,.1f}"
        assert texts[version, "cost_total"] == f"{expected['cost_total']:,.4f}"
        assert texts[version, "feedback"] == f"{expected['feedback']:.1%}"


# --- filters -------------------------------------------------------------------------------


def test_production_is_the_default_environment_and_all_counts_every_one(world):
    ingest(world, [event(), event(), event(environment="staging")])
    reader = signed_in(world.reader)

    default = table(reader.get(URL))
    every = table(reader.get(URL, {"environment": "all"}))
    staging = table(reader.get(URL, {"environment": "staging"}))

    assert default[1]["count"] == 2
    assert every[1]["count"] == 3
    assert staging[1]["count"] == 1


def test_the_model_filter_offers_the_models_seen_and_narrows_the_figures(world):
    ingest(world, [event(model="gpt-x"), event(model="gpt-x"), event(model="claude-y")])
    reader = signed_in(world.reader)

    page = reader.get(URL)
    narrowed = reader.get(URL, {"model": "claude-y"})

    assert page.context["models"] == ["claude-y", "gpt-x"]
    assert '<option value="claude-y">claude-y</option>' in page.content.decode()
    assert table(narrowed)[1]["count"] == 1
    assert '<option value="claude-y" selected>' in narrowed.content.decode()


def test_the_range_filter_keeps_calls_older_than_it_out(world):
    now = timezone.now()
    ingest(
        world,
        [
            event(occurred_at=(now - dt.timedelta(hours=2)).isoformat()),
            event(occurred_at=(now - dt.timedelta(days=3)).isoformat()),
            event(occurred_at=(now - dt.timedelta(days=20)).isoformat()),
            event(occurred_at=(now - dt.timedelta(days=80)).isoformat()),
        ],
    )
    reader = signed_in(world.reader)

    counts = {
        span: table(reader.get(URL, {"range": span}))[1]["count"]
        for span in ("24h", "7d", "30d", "90d")
    }

    assert counts == {"24h": 1, "7d": 2, "30d": 3, "90d": 4}
    assert table(reader.get(URL))[1]["count"] == 2  # 7 days by default


def test_a_filter_value_that_is_not_offered_is_a_400_with_the_reason(world):
    response = signed_in(world.reader).get(URL, {"range": "1y", "environment": "nowhere"})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Select a valid choice" in page
    assert 'aria-invalid="true"' in page
    assert "<svg" not in page


# --- charts --------------------------------------------------------------------------------


def test_charts_have_one_line_per_version_with_the_days_that_had_calls(world):
    now = timezone.now()
    ingest(
        world,
        [event(version=1, occurred_at=(now - dt.timedelta(days=d)).isoformat()) for d in (1, 2, 3)]
        + [event(version=2, quality_score=0.8, feedback=1)],
    )

    response = signed_in(world.reader).get(URL)

    page = response.content.decode()
    drawn = charts(page)
    assert sorted(drawn) == ["cost", "feedback", "latency", "quality"]
    assert legend(drawn["latency"]) == ["v1 p50", "v1 p95", "v2 p50", "v2 p95"]
    assert dots(drawn["latency"]) == {0: 3, 1: 3, 2: 1, 3: 1}
    assert legend(drawn["cost"]) == ["v1", "v2"]
    assert dots(drawn["quality"]) == {0: 0, 1: 1}  # v1 had no score: same colours, no points
    for slug, svg in drawn.items():
        assert svg.get("role") == "img"
        title_id, desc_id = svg.get("aria-labelledby").split()
        title = svg.find(f"{SVG_NS}title")
        assert title.get("id") == title_id
        assert title.text
        assert svg.find(f"{SVG_NS}desc").get("id") == desc_id, slug


def test_charts_render_under_the_pages_policy(world):
    ingest(world, [event(quality_score=0.5, feedback=1), event(version=2)])

    response = signed_in(world.reader).get(URL)

    policy = response["Content-Security-Policy"]
    nonce = re.search(r"style-src 'self' 'nonce-([^']+)'", policy).group(1)
    page = response.content.decode()
    assert "unsafe-inline" not in policy
    assert "<script" not in page.split("<main", 1)[1]
    assert page.count(f'<style type="text/css" nonce="{nonce}">') == 4
    assert "<style" not in page.replace(f'<style type="text/css" nonce="{nonce}">', "")
    assert not re.search(r"<svg[^>]*>.*\sstyle=", page, re.S)


def test_one_line_for_all_versions_when_asked(world):
    ingest(world, [event(version=n, quality_score=0.5, feedback=-1) for n in (1, 2, 3)])

    drawn = charts(signed_in(world.reader).get(URL, {"lines": "all"}).content.decode())

    assert legend(drawn["latency"]) == ["All versions p50", "All versions p95"]
    assert legend(drawn["feedback"]) == ["All versions"]


def test_a_chart_without_values_says_so_instead_of_drawing(world):
    ingest(world, [event(quality_score=None, feedback=0)])

    page = signed_in(world.reader).get(URL).content.decode()

    assert sorted(charts(page)) == ["cost", "latency"]
    assert "No quality scores were reported in this range." in page
    assert "No feedback was reported in this range." in page


# --- empty ---------------------------------------------------------------------------------


def test_no_events_says_so_and_points_at_the_events_api(world):
    ingest(world, [event(environment="staging")])

    response = signed_in(world.reader).get(URL)

    page = response.content.decode()
    assert response.status_code == 200
    assert "No events in this range" in page
    assert "POST /api/v1/events/" in page
    assert "<svg" not in page
    assert "<table" not in page


# --- queries -------------------------------------------------------------------------------


@pytest.mark.parametrize("lines", ["version", "all"])
def test_queries_stay_bounded_with_more_versions_and_days(
    world, django_assert_max_num_queries, lines
):
    reader = signed_in(world.reader)
    reader.get(URL)  # the session, warm
    ingest(world, [event()])
    with django_assert_max_num_queries(30) as few:
        assert reader.get(URL, {"lines": lines, "range": "90d"}).status_code == 200
    one_version_one_day = len(few.captured_queries)  # the next request resets the log

    ingest(world, random_events(n=900, days=80, model="claude-y"))
    assert one_version_one_day <= 25
    with django_assert_max_num_queries(one_version_one_day):
        response = reader.get(URL, {"lines": lines, "range": "90d"})

    assert sorted(table(response)) == [1, 2, 3]
