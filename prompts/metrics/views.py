"""The metrics dashboard of a prompt: filters, pygal charts over time and a summary per version.

Three reads of `metrics_for` (about six queries each, whatever the range or the number of
versions): the models seen in the range (the model filter's options), the summary per version
and the figures per day (and version) that the charts draw.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from csp.constants import NONCE
from csp.decorators import csp_update
from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from portal.web import found
from prompts.metrics.charts import dashboard_charts, days_between
from prompts.metrics.selectors import Figures, MetricsAnswer, metrics_for
from prompts.models import Environment, Prompt
from prompts.selectors import prompt_get

ALL = "all"
DEFAULT_ENVIRONMENT = "production"
RANGES: dict[str, tuple[str, dt.timedelta]] = {
    "24h": ("Last 24 hours", dt.timedelta(hours=24)),
    "7d": ("Last 7 days", dt.timedelta(days=7)),
    "30d": ("Last 30 days", dt.timedelta(days=30)),
    "90d": ("Last 90 days", dt.timedelta(days=90)),
}
DEFAULT_RANGE = "7d"
LINES = {"version": "Per version", ALL: "Combined"}


class DashboardFilters(forms.Form):
    environment = forms.ChoiceField()
    model = forms.CharField(required=False, max_length=200)
    range = forms.ChoiceField(choices=[(key, label) for key, (label, _) in RANGES.items()])
    lines = forms.ChoiceField(choices=list(LINES.items()))

    def __init__(self, data: dict[str, str], *, environments: list[Environment]) -> None:
        slugs = [environment.slug for environment in environments]
        defaults = {
            "environment": DEFAULT_ENVIRONMENT if DEFAULT_ENVIRONMENT in slugs else ALL,
            "range": DEFAULT_RANGE,
            "lines": "version",
        }
        super().__init__({**defaults, **{key: value for key, value in data.items() if value}})
        self.fields["environment"].choices = [(ALL, "All environments")] + [
            (environment.slug, environment.name) for environment in environments
        ]


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    value: Callable[[Figures], float | int | None]
    text: Callable[[Any], str]
    group: str = ""  # the header over several columns ("Latency (ms)")


def _percentile(q: float) -> Callable[[Figures], float | None]:
    return lambda figures: figures.latency_percentile(q)


def _per_call(total: str) -> Callable[[Figures], float | None]:
    return lambda figures: figures._mean(getattr(figures, total), figures.count)


def _number(digits: int) -> Callable[[float], str]:
    return lambda value: f"{value:,.{digits}f}"


def _percent(value: float) -> str:
    return f"{value:.1%}"


LATENCY, TOKENS, COST = "Latency (ms)", "Tokens per call", "Cost (USD)"
COLUMNS = (
    Column("count", "Calls", lambda f: f.count, _number(0)),
    Column("p50", "p50", _percentile(0.5), _number(1), LATENCY),
    Column("p95", "p95", _percentile(0.95), _number(1), LATENCY),
    Column("p99", "p99", _percentile(0.99), _number(1), LATENCY),
    Column("input_tokens", "in", _per_call("input_tokens_sum"), _number(1), TOKENS),
    Column("output_tokens", "out", _per_call("output_tokens_sum"), _number(1), TOKENS),
    Column("cost_total", "total", lambda f: f.cost_sum, _number(4), COST),
    Column("cost_mean", "per call", lambda f: f.cost_mean, _number(6), COST),
    Column("quality", "Mean quality", lambda f: f.quality_mean, _number(3)),
    Column("feedback", "Positive feedback", lambda f: f.feedback_rate, _percent),
    Column("error_rate", "Error rate", lambda f: f.error_rate, _percent),
)


def _header_groups(columns: tuple[Column, ...]) -> list[tuple[str, int, bool]]:
    """The first header row: (label, columns spanned, is a group over a second row)."""
    found: list[tuple[str, int, bool]] = []
    for column in columns:
        if column.group and found and found[-1][0] == column.group:
            found[-1] = (column.group, found[-1][1] + 1, True)
        else:
            found.append((column.group or column.header, 1, bool(column.group)))
    return found


@dataclass(frozen=True)
class Cell:
    key: str
    value: float | int | None
    text: str


@dataclass(frozen=True)
class Row:
    version: int
    cells: list[Cell]
    quality_count: int
    feedback_count: int


def summary_rows(answer: MetricsAnswer) -> list[Row]:
    rows = []
    for group in answer.groups:
        figures = group.figures
        cells = []
        for column in COLUMNS:
            value = column.value(figures)
            cells.append(Cell(column.key, value, "—" if value is None else column.text(value)))
        rows.append(Row(group.key["version"], cells, figures.quality_count, figures.feedback_count))
    return rows


def _subject(prompt: Prompt, environment: Environment | None, model: str | None) -> str:
    where = f"in {environment.name}" if environment else "in all environments"
    return f"{prompt.full_name} {where}" + (f", model {model}" if model else "")


@login_required
@csp_update({"style-src": [NONCE]})  # pygal's <style> in each inline chart carries the nonce
def dashboard(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    prompt = found(prompt_get, user=request.user, namespace=namespace, name=name)
    environments = list(Environment.objects.order_by("order"))
    form = DashboardFilters(request.GET.dict(), environments=environments)
    context: dict[str, Any] = {
        "prompt": prompt,
        "form": form,
        "environments": environments,
        "ranges": [(key, label) for key, (label, _) in RANGES.items()],
        "lines": list(LINES.items()),
        "columns": COLUMNS,
        "header_groups": _header_groups(COLUMNS),
    }
    if not form.is_valid():
        return render(request, "metrics/dashboard.html", context, status=400)
    chosen = form.cleaned_data
    end = timezone.now()
    start = end - RANGES[chosen["range"]][1]
    environment = next((e for e in environments if e.slug == chosen["environment"]), None)
    model = chosen["model"] or None
    scope = {"prompt": prompt, "start": start, "end": end, "environment": environment}
    models = metrics_for(**scope, group=("model",))
    summary = metrics_for(**scope, model=model, group=("version",))
    context.update(
        chosen=chosen,
        start=start,
        end=end,
        models=[group.key["model"] for group in models.groups if group.key["model"]],
        summary=summary,
        rows=summary_rows(summary),
    )
    if summary.groups:
        by_version = chosen["lines"] == "version"
        over_time = metrics_for(
            **scope, model=model, group=("day", "version") if by_version else ("day",)
        )
        context["charts"] = dashboard_charts(
            answer=over_time,
            days=days_between(start, end),
            nonce=str(request.csp_nonce),
            subject=_subject(prompt, environment, model),
        )
    return render(request, "metrics/dashboard.html", context)
