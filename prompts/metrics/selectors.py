"""Metrics of a prompt's call events, for the API, the dashboard and the experiment results.

Contract (other modules build on it):

    metrics_for(*, prompt, start, end, environment=None, model=None, experiment=None,
                group=("version",), exact=None) -> MetricsAnswer

- `prompt` a Prompt (the caller has checked that its user may read it); `start` ≤ t < `end`
  (aware datetimes); `environment` an Environment or None (all); `model` a model name or None;
  `experiment` an Experiment or its id (only its events) or None; `group` a tuple of
  dimensions from GROUPS ("version", "arm", "day", "model"), e.g. ("day", "version") or
  ("arm",); `exact` True for exact percentiles from the raw events, False for the
  histogram's, None to decide by the range (exact up to METRICS_EXACT_MAX_HOURS).
- `MetricsAnswer.groups` is a list of `Group(key, figures)`, sorted by key; `key` maps each
  dimension to its value (version number, arm label or None outside experiments, day as an
  ISO date in UTC, model name).
- `Figures` is an `Accumulator` (prompts.metrics.aggregates): the raw sums `count`,
  `latency_sum`/`latency_sumsq`, `cost_sum`/`cost_sumsq`, `quality_count`/`quality_sum`/
  `quality_sumsq`, `feedback_positive`/`feedback_negative`, `errors`, `input_tokens_sum`/
  `output_tokens_sum`, the properties `*_mean`, `*_variance` (sample, n − 1), `feedback_rate`,
  `error_rate`, and `latency_histogram` ({bucket index: count}; read it with
  `prompts.metrics.histogram.quantile` / `bucket_bounds`, or `figures.latency_quantile(q)`).
  `figures.latency_percentile(q)` is the answer's percentile: exact (linear interpolation
  between closest ranks, numpy's default, PostgreSQL's percentile_cont) when
  `answer.percentiles == "exact"`, else the histogram's (relative error ≤
  `answer.relative_error`, 1 %).
- Completeness: the histogram path reads the rollup for whole hours it has caught up with and
  the raw events for the rest (hours with events not rolled up yet, the partial hours at either
  end of the range), so every event committed before the call is counted either way.
- Queries: a constant number (about six), whatever the range or the number of groups.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any, Literal

from django.conf import settings
from django.db import connection
from django.db.models import Aggregate, Q, QuerySet
from django.db.models import Field as _AnyField
from django.db.models.functions import TruncDay
from django.utils import timezone

from portal.errors import Invalid
from prompts.metrics import histogram
from prompts.metrics.aggregates import (
    DIMENSIONS,
    Accumulator,
    Key,
    raw_accumulators,
    raw_hours,
    rollup_hours,
)
from prompts.metrics.models import CallEvent, DirtyHour, HourlyRollup
from prompts.models import Environment, Experiment, Prompt, PromptVersion

GROUPS = ("version", "arm", "day", "model")
QUANTILES = (0.5, 0.95, 0.99)
HOUR = dt.timedelta(hours=1)


@dataclass
class Figures(Accumulator):
    exact_latency: dict[float, float] | None = None

    def latency_percentile(self, q: float) -> float | None:
        if self.exact_latency is not None:
            return self.exact_latency.get(q)
        return self.latency_quantile(q)


@dataclass(frozen=True)
class Group:
    key: dict[str, Any]
    figures: Figures


@dataclass
class MetricsAnswer:
    prompt: Prompt
    start: dt.datetime
    end: dt.datetime
    environment: Environment | None
    model: str | None
    experiment_id: int | None
    group: tuple[str, ...]
    percentiles: Literal["exact", "histogram"]
    relative_error: float
    complete_until: dt.datetime
    groups: list[Group] = field(default_factory=list)


class _Percentiles(Aggregate):
    """PostgreSQL: the QUANTILES of an ordered set in one sort, as a float8[]."""

    function = "percentile_cont"
    template = (
        f"%(function)s(ARRAY[{', '.join(map(str, QUANTILES))}]::float8[])"
        " WITHIN GROUP (ORDER BY %(expressions)s)"
    )
    output_field = _AnyField()


def _ceil_hour(moment: dt.datetime) -> dt.datetime:
    floor = _floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def _floor_hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def _filters(*, prompt, environment, model, experiment_id) -> Q:
    q = Q(prompt_id=prompt.pk)
    if environment is not None:
        q &= Q(environment_id=environment.pk)
    if model is not None:
        q &= Q(model=model)
    if experiment_id is not None:
        q &= Q(experiment_id=experiment_id)
    return q


def _value(name: str, value: Any, numbers: dict[int, int]) -> Any:
    """A group key's part as the answer names it."""
    if name == "version":
        return numbers.get(value)
    if name == "arm":
        return value or None
    if name == "day":
        return value.astimezone(dt.UTC).date().isoformat()
    return value


def _group_key(group: tuple[str, ...], key: Key, numbers: dict[int, int]) -> tuple:
    """The group of an hourly key (DIMENSIONS, then the hour)."""
    values = {**dict(zip(DIMENSIONS, key[:-1], strict=True)), "hour": key[-1]}
    return tuple(_value(name, values[HOURLY_NAMES[name]], numbers) for name in group)


HOURLY_NAMES = {"version": "version_id", "arm": "arm", "day": "hour", "model": "model"}
EXACT_COLUMNS = {
    "version": "version_id",
    "arm": "arm",
    "day": TruncDay("occurred_at", tzinfo=dt.UTC),
    "model": "model",
}


def _sort_key(key: tuple) -> tuple:
    return tuple((value is None, value) for value in key)


def _exact(
    events: QuerySet[CallEvent], group: tuple[str, ...], numbers: dict[int, int]
) -> dict[tuple, Figures]:
    """Figures per group straight from the raw events, with exact QUANTILES (on PostgreSQL in
    the sums' query: two scans in all)."""
    columns = {name: EXACT_COLUMNS[name] for name in group}
    in_database = connection.vendor == "postgresql"
    found, extras = raw_accumulators(
        events, columns, {"p": _Percentiles("latency_ms")} if in_database else None
    )

    def key_of(raw: tuple) -> tuple:
        return tuple(_value(name, value, numbers) for name, value in zip(group, raw, strict=True))

    figures: dict[tuple, Figures] = {}
    for raw, accumulator in found.items():
        figures[key_of(raw)] = Figures().add(accumulator)
        if in_database:
            figures[key_of(raw)].exact_latency = dict(zip(QUANTILES, extras[raw]["p"], strict=True))
    if not in_database:
        names = [name if not isinstance(c, str) else c for name, c in columns.items()]
        latencies: dict[tuple, list[float]] = defaultdict(list)
        keyed = events.annotate(**{n: c for n, c in columns.items() if not isinstance(c, str)})
        for *raw, latency in keyed.values_list(*names, "latency_ms"):
            latencies[key_of(tuple(raw))].append(latency)
        for key, values in latencies.items():
            if key in figures:  # not a group first committed after the sums were read
                figures[key].exact_latency = {q: exact_quantile(values, q) for q in QUANTILES}
    return figures


def exact_quantile(values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default, percentile_cont)."""
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


def _resolve_exact(exact: bool | None, start: dt.datetime, end: dt.datetime) -> bool:
    if exact is not None:
        return exact
    return end - start <= dt.timedelta(hours=settings.METRICS_EXACT_MAX_HOURS)


def metrics_for(
    *,
    prompt: Prompt,
    start: dt.datetime,
    end: dt.datetime,
    environment: Environment | None = None,
    model: str | None = None,
    experiment: Experiment | int | None = None,
    group: tuple[str, ...] = ("version",),
    exact: bool | None = None,
) -> MetricsAnswer:
    """The figures of the prompt's events in [start, end) per group (see the module's doc)."""
    group = tuple(group)
    unknown = [name for name in group if name not in GROUPS]
    if unknown or not group or len(set(group)) != len(group):
        raise Invalid.field("group", f"Group by distinct ones of {', '.join(GROUPS)}.")
    if start >= end:
        raise Invalid.field("from", "The range must start before it ends.")
    experiment_id = experiment.pk if isinstance(experiment, Experiment) else experiment
    where = _filters(
        prompt=prompt, environment=environment, model=model, experiment_id=experiment_id
    )
    numbers = dict(PromptVersion.objects.filter(prompt=prompt).values_list("pk", "number"))
    use_exact = _resolve_exact(exact, start, end)
    if use_exact:
        events = CallEvent.objects.filter(where, occurred_at__gte=start, occurred_at__lt=end)
        grouped = _exact(events, group, numbers)
    else:
        events, rolled = _histogram_sources(prompt=prompt, where=where, start=start, end=end)
        grouped = defaultdict(Figures)
        for key, accumulator in [*raw_hours(events).items(), *rolled]:
            grouped[_group_key(group, key, numbers)].add(accumulator)
    return MetricsAnswer(
        prompt=prompt,
        start=start,
        end=end,
        environment=environment,
        model=model,
        experiment_id=experiment_id,
        group=group,
        percentiles="exact" if use_exact else "histogram",
        relative_error=0.0 if use_exact else histogram.RELATIVE_ERROR,
        complete_until=min(end, timezone.now()),
        groups=[
            Group(dict(zip(group, key, strict=True)), grouped[key])
            for key in sorted(grouped, key=_sort_key)
        ],
    )


def _histogram_sources(*, prompt: Prompt, where: Q, start: dt.datetime, end: dt.datetime):
    """The raw events to read (partial hours at the ends, hours not rolled up yet) and the
    rollup rows of the other whole hours."""
    first, last = _ceil_hour(start), _floor_hour(end)
    if first >= last:
        return CallEvent.objects.filter(where, occurred_at__gte=start, occurred_at__lt=end), []
    dirty = set(
        DirtyHour.objects.filter(prompt=prompt, hour__gte=first, hour__lt=last).values_list(
            "hour", flat=True
        )
    )
    raw = [
        Q(occurred_at__gte=start, occurred_at__lt=first),
        Q(occurred_at__gte=last, occurred_at__lt=end),
    ]
    raw += [Q(occurred_at__gte=hour, occurred_at__lt=hour + HOUR) for hour in sorted(dirty)]
    events = CallEvent.objects.filter(where).filter(reduce(or_, raw))
    rollups = HourlyRollup.objects.filter(where, hour__gte=first, hour__lt=last)
    if dirty:
        rollups = rollups.exclude(hour__in=dirty)
    return events, list(rollup_hours(rollups))
