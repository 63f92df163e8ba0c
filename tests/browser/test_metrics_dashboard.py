"""The metrics dashboard in Chromium: a service reports calls through POST /api/v1/events/, a
viewer of the team opens the prompt's dashboard and sees pygal's charts drawn with their own
(nonce-allowed) styles, one line per version, and the summary table's counts; the filters
narrow it; no CSP violation, no axe violation, at desktop and phone widths."""

import datetime as dt
import os
import random
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from teams.tokens import service_token_create
from tests.factories import system_actor

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

URL = "/prompts/support/refund-reply/metrics/"
SCREENSHOTS = os.environ.get("METRICS_SCREENSHOTS", "/tmp/metrics-dashboard")
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => window.reportCspViolation(
  `${event.violatedDirective} ${event.blockedURI} at ${event.sourceFile}:${event.lineNumber}`
), true);
"""


def calls(now: dt.datetime) -> list[dict]:
    """Versions 1–3 in production over the last six days (v3 only in the last day), and two
    calls in staging."""
    rng = random.Random(5)
    records = []
    for n in range(240):
        version = (1, 2, 3)[n % 3]
        age = rng.uniform(0.01, 0.9 if version == 3 else 6) * 86400
        records.append(
            {
                "prompt": "support/refund-reply",
                "version": version,
                "environment": "production",
                "latency_ms": rng.lognormvariate(5.5 + version / 5, 0.4),
                "input_tokens": rng.randint(50, 300),
                "output_tokens": rng.randint(50, 600),
                "cost_usd": rng.uniform(0.001, 0.01),
                "quality_score": rng.uniform(0.5, 1.0),
                "feedback": rng.choice((-1, 1, 1, 0)),
                "error": rng.random() < 0.03,
                "model": rng.choice(("gpt-x", "claude-y")),
                "idempotency_key": f"browser-{n}",
                "occurred_at": (now - dt.timedelta(seconds=age)).isoformat(),
            }
        )
    for n in range(2):
        records.append({**records[n], "environment": "staging", "idempotency_key": f"stg-{n}"})
    return records


@pytest.fixture
def reported(page, portal_data):
    """The calls, posted through the API with a service token of the namespace."""
    _, secret = service_token_create(
        actor=system_actor(), namespaces=[portal_data["prompt"].namespace], name="support-bot"
    )
    records = calls(timezone.now())
    response = page.request.post(
        "/api/v1/events/",
        data={"events": records},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status == 202, response.text()
    assert response.json()["accepted"] == len(records)
    return records


@pytest.fixture
def violations(page):
    found: list[str] = []
    page.context.expose_function("reportCspViolation", lambda text: found.append(text))
    page.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            found.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return found


def _production_counts(records: list[dict]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for record in records:
        if record["environment"] == "production":
            counts[record["version"]] = counts.get(record["version"], 0) + 1
    return counts


def _days_with_calls(records: list[dict]) -> dict[int, int]:
    """Per version, on how many days (the portal's TIME_ZONE, UTC here) it had production calls:
    the chart's points."""
    days: dict[int, set] = {}
    for record in records:
        if record["environment"] == "production":
            day = dt.datetime.fromisoformat(record["occurred_at"]).astimezone(dt.UTC).date()
            days.setdefault(record["version"], set()).add(day)
    return {version: len(found) for version, found in days.items()}


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_a_viewer_sees_charts_with_a_line_per_version_and_the_counts(
    width, page, sign_in, reported, violations, assert_accessible
):
    page.set_viewport_size({"width": width, "height": 900})
    sign_in("vic")

    page.goto(URL)

    expect(page.get_by_role("heading", level=1)).to_have_text("Metrics of support/refund-reply")
    expect(page.get_by_label("Environment")).to_have_value("production")
    expect(page.get_by_label("Range")).to_have_value("7d")
    rows = page.locator("table.metrics-summary tbody tr")
    expect(rows).to_have_count(3)
    for version, count in _production_counts(reported).items():
        row = page.locator(f'tr[data-version="{version}"]')
        expect(row.locator('[data-metric="count"]')).to_have_text(str(count))
    charts = page.get_by_role("img")
    expect(charts).to_have_count(4)
    expect(
        page.get_by_role("img", name=re.compile(r"^Latency \(ms\): p50 solid, p95 dashed"))
    ).to_be_visible()
    latency = page.locator('svg[data-chart="latency"]')
    # two lines (p50, p95) per version, drawn by pygal's stylesheet: no fill, a coloured stroke;
    # a version whose calls all fall on one day (v3, late in the UTC day) is a point, not a line
    days = _days_with_calls(reported)
    assert days[1] > 1
    assert days[2] > 1
    for serie in range(6):
        drawn = latency.locator(f".series.serie-{serie} path.line").first
        if days[serie // 2 + 1] > 1:
            expect(drawn).to_be_visible()
        else:
            expect(drawn).to_have_count(0)
    line = latency.locator(".series.serie-0 path.line").first
    assert line.evaluate("(path) => getComputedStyle(path).fill") == "none"
    assert line.evaluate("(path) => getComputedStyle(path).strokeWidth") != "0px"
    assert latency.locator(".plot.overlay .dots circle").count() >= 2 * 7
    box = latency.bounding_box()
    assert box["width"] <= width
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    page.screenshot(path=f"{SCREENSHOTS}-{width}.png", full_page=True)
    latency.screenshot(path=f"{SCREENSHOTS}-{width}-latency.png")
    assert violations == []
    assert_accessible()


def test_the_filters_narrow_the_figures(page, sign_in, reported, violations):
    sign_in("vic")
    page.goto(URL)

    page.get_by_label("Environment").select_option("staging")
    page.get_by_role("button", name="Show").click()

    expect(page).to_have_url(re.compile(r"environment=staging"))
    expect(page.locator("table.metrics-summary tbody tr")).to_have_count(2)
    page.get_by_label("Environment").select_option("all")
    page.get_by_label("Chart lines").select_option("all")
    page.get_by_label("Model", exact=True).select_option("gpt-x")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_label("Model", exact=True)).to_have_value("gpt-x")
    expect(page.locator('svg[data-chart="cost"] .legends text')).to_have_text(["All versions"])

    page.goto(f"{URL}?environment=production&range=24h")
    v3 = _production_counts(reported)[3]
    expect(page.locator('tr[data-version="3"] [data-metric="count"]')).to_have_text(str(v3))
    page.goto(f"{URL}?environment=development")
    expect(page.get_by_role("heading", name="No events in this range")).to_be_visible()
    expect(page.locator("svg")).to_have_count(0)
    page.screenshot(path=f"{SCREENSHOTS}-empty.png", full_page=True)
    assert violations == []
