"""The dashboard's charts: pygal line charts of a metrics answer grouped by day (and version),
rendered as SVG to put inline in the page.

The portal's CSP allows no inline script and no inline style. So the charts carry no script
(`js=[]`: pygal.js would come from a CDN and only draws tooltips; the inline config script pygal
writes even then is dropped), pygal's own `<style>` element gets the request's nonce (the
dashboard view adds the nonce to style-src, as the ReDoc page does), and the tooltip layer,
whose only use is pygal.js and which holds the chart's one style attribute, is dropped.

Each chart is an image to assistive technology (role="img") named by a `<title>` and described
by a `<desc>`; the summary table of the page is its text alternative.
"""

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pygal
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

from prompts.metrics.selectors import Figures, MetricsAnswer

# Colour-blind-safe (Okabe-Ito), each at least 3:1 against white; a version keeps its colour
# across the charts because every chart adds the versions in the same order.
LEGEND_FONT_SIZE = 15
LEGEND_COLUMNS = 4
MARGIN = 12
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#8a6d00", "#56b4e9", "#000000")
STYLE = {
    "font_family": 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
    "background": "#ffffff",
    "plot_background": "#ffffff",
    "foreground": "#1d2330",
    "foreground_strong": "#1d2330",
    "foreground_subtle": "#d9dde5",
    "title_font_size": 18,
    "label_font_size": 15,
    "major_label_font_size": 15,
    "legend_font_size": LEGEND_FONT_SIZE,
    "value_font_size": 15,
    "no_data_font_size": 20,
}
# Drawn at about this size on a desktop (two charts a row); a phone scales them down by a third.
WIDTH, HEIGHT = 480, 330
# Days on the x axis: at most this many labelled, the others stay as unlabelled guides.
X_LABELS = 7
ALL_VERSIONS = "All versions"

Value = float | None
Metric = Callable[[Figures], Value]


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    description: str
    svg: SafeString | None  # None: nothing to draw (see `empty`)
    empty: str


@dataclass(frozen=True)
class _Spec:
    slug: str
    title: str
    what: str  # the description's subject, "daily mean cost per call in USD"
    empty: str
    lines: tuple[tuple[str, Metric], ...]  # (suffix of the series name, metric); dashed after first
    formatter: Callable[[float], str]
    fraction: bool = False  # a rate or a score: the y axis runs from 0 to 1


def _percentile(q: float) -> Metric:
    return lambda figures: figures.latency_percentile(q)


SPECS = (
    _Spec(
        slug="latency",
        title="Latency (ms): p50 solid, p95 dashed",
        what="daily latency in milliseconds (p50 solid, p95 dashed)",
        empty="No latencies in this range.",
        lines=(("p50", _percentile(0.5)), ("p95", _percentile(0.95))),
        formatter=lambda value: f"{value:,.0f} ms",
    ),
    _Spec(
        slug="cost",
        title="Mean cost per call (USD)",
        what="daily mean cost per call in US dollars",
        empty="No costs in this range.",
        lines=(("", lambda figures: figures.cost_mean),),
        formatter=lambda value: f"${value:.4f}",
    ),
    _Spec(
        slug="quality",
        title="Mean quality score",
        what="daily mean quality score (0 to 1)",
        empty="No quality scores were reported in this range.",
        lines=(("", lambda figures: figures.quality_mean),),
        formatter=lambda value: f"{value:.2f}",
        fraction=True,
    ),
    _Spec(
        slug="feedback",
        title="Positive feedback rate",
        what="daily share of positive feedback among the calls with feedback",
        empty="No feedback was reported in this range.",
        lines=(("", lambda figures: figures.feedback_rate),),
        formatter=lambda value: f"{value:.0%}",
        fraction=True,
    ),
)


def days_between(start: dt.datetime, end: dt.datetime) -> list[str]:
    """The UTC days (ISO dates) that [start, end) touches: the x axis of every chart."""
    first = start.astimezone(dt.UTC).date()
    last = (end - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()
    return [(first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def series_of(answer: MetricsAnswer) -> dict[str, dict[str, Figures]]:
    """{series name: {day: figures}} of an answer grouped by ("day", "version") or ("day",)."""
    found: dict[str, dict[str, Figures]] = {}
    versions = sorted(
        {group.key["version"] for group in answer.groups if "version" in group.key},
        key=lambda number: (number is None, number),
    )
    for number in versions:
        found[f"v{number}"] = {}
    for group in answer.groups:
        name = f"v{group.key['version']}" if "version" in group.key else ALL_VERSIONS
        found.setdefault(name, {})[group.key["day"]] = group.figures
    return found


def dashboard_charts(
    *, answer: MetricsAnswer, days: list[str], nonce: str, subject: str
) -> list[Chart]:
    """The dashboard's charts of an answer grouped by ("day", "version") or ("day",); `subject`
    names what the figures are of in the descriptions ("support/refund-reply in production")."""
    series = series_of(answer)
    period = f"from {days[0]} to {days[-1]} (UTC days)" if days else ""
    charts = []
    for spec in SPECS:
        lines = {
            f"{name} {suffix}".strip(): [_value(metric, by_day.get(day)) for day in days]
            for name, by_day in series.items()
            for suffix, metric in spec.lines
        }
        lines_are = "one for all versions" if ALL_VERSIONS in series else "per version"
        description = (
            f"Line chart of the {spec.what} of {subject}, {lines_are}, {period}. "
            "The summary table on this page gives the figures."
        )
        drawn = any(value is not None for values in lines.values() for value in values)
        svg = _render(spec, lines, days, len(spec.lines), description, nonce) if drawn else None
        charts.append(Chart(spec.slug, spec.title, description, svg, spec.empty))
    return charts


def _value(metric: Metric, figures: Figures | None) -> Value:
    return None if figures is None or not figures.count else metric(figures)


def _render(
    spec: _Spec,
    lines: dict[str, list[Value]],
    days: list[str],
    per_series: int,
    description: str,
    nonce: str,
) -> SafeString:
    # One colour per version: its lines (p50, p95) share it, the second one dashed.
    colours = tuple(COLOURS[n // per_series % len(COLOURS)] for n in range(len(lines)))
    chart = pygal.Line(
        width=WIDTH,
        height=HEIGHT,
        style=Style(**STYLE, colors=colours),
        js=[],
        disable_xml_declaration=True,
        title=spec.title,
        legend_at_bottom=True,
        legend_at_bottom_columns=min(len(lines), LEGEND_COLUMNS),
        margin_bottom=MARGIN + _legend_rows_pygal_misses(len(lines)),
        allow_interruptions=True,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, -(-len(days) // X_LABELS)),
        truncate_label=-1,
        truncate_legend=-1,
        dots_size=3 if len(days) <= 31 else 1.5,  # 90 points a line: dots would hide it
        value_formatter=spec.formatter,
        range=(0, 1) if spec.fraction else None,
        include_x_axis=not spec.fraction,
        margin=MARGIN,
    )
    chart.x_labels = [day[5:] for day in days]  # MM-DD: the description names the year
    for n, (name, values) in enumerate(lines.items()):
        dashed = n % per_series > 0
        chart.add(name, values, stroke_style={"dasharray": "6,4", "width": 2} if dashed else {})
    return _accessible(chart.render_tree(), spec, description, nonce)


def _legend_rows_pygal_misses(entries: int) -> float:
    """pygal 3.1 reserves entries // columns legend rows below the plot, one short of what a
    last partial row needs (6 entries in 4 columns draw 2 rows, it reserves 1): the height
    of the missing row, as pygal spaces them (1.5 × the taller of the text and the box)."""
    columns = min(entries, LEGEND_COLUMNS)
    missing = -(-entries // columns) - entries // columns
    return missing * 1.5 * max(LEGEND_FONT_SIZE, pygal.Config().legend_box_size)


def _accessible(root: ET.Element, spec: _Spec, description: str, nonce: str) -> SafeString:
    for parent in _with_children(root):
        for child in list(parent):
            if child.tag == "script" or "tooltip-overlay" in child.get("class", "").split():
                parent.remove(child)
            elif child.tag == "style":
                child.set("nonce", nonce)
    title_id, desc_id = f"chart-{spec.slug}-title", f"chart-{spec.slug}-desc"
    title = ET.Element("title", id=title_id)
    title.text = spec.title
    desc = ET.Element("desc", id=desc_id)
    desc.text = description
    root.insert(0, desc)
    root.insert(0, title)
    root.set("role", "img")
    root.set("aria-labelledby", f"{title_id} {desc_id}")
    root.set("data-chart", spec.slug)
    # The output is pygal's tree, serialised by ElementTree, which escapes every text and value.
    return mark_safe(ET.tostring(root, encoding="unicode"))


def _with_children(root: ET.Element) -> Iterable[ET.Element]:
    return (element for element in root.iter() if len(element))
