"""Accumulators of call events: what one group of events sums to, computed in the database
from raw events (the rollup task and the raw parts of a metrics answer) or read from rollup
rows, and merged in Python. Everything a metric or a test statistic needs derives from them:
counts, sums, sums of squares and the latency histogram (prompts.metrics.histogram)."""

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Ceil, Coalesce, Ln, TruncHour

from prompts.metrics import histogram
from prompts.metrics.models import CallEvent, HourlyRollup

# The columns a rollup row is kept per; an hour's accumulators are keyed by them and the hour.
DIMENSIONS = ("version_id", "environment_id", "experiment_id", "arm", "model")
Key = tuple[Any, ...]  # DIMENSIONS values, then the hour


@dataclass
class Accumulator:
    """Sums over a set of events. Means and variances derive from them (see the properties);
    the latency histogram gives percentiles with histogram.RELATIVE_ERROR."""

    count: int = 0
    latency_sum: float = 0.0
    latency_sumsq: float = 0.0
    cost_sum: float = 0.0
    cost_sumsq: float = 0.0
    quality_count: int = 0
    quality_sum: float = 0.0
    quality_sumsq: float = 0.0
    feedback_positive: int = 0
    feedback_negative: int = 0
    errors: int = 0
    input_tokens_sum: int = 0
    output_tokens_sum: int = 0
    latency_histogram: dict[int, int] = field(default_factory=dict)

    SUMS = (
        "count",
        "latency_sum",
        "latency_sumsq",
        "cost_sum",
        "cost_sumsq",
        "quality_count",
        "quality_sum",
        "quality_sumsq",
        "feedback_positive",
        "feedback_negative",
        "errors",
        "input_tokens_sum",
        "output_tokens_sum",
    )

    def add(self, other: "Accumulator | Mapping[str, Any]") -> "Accumulator":
        get = other.get if isinstance(other, Mapping) else other.__getattribute__
        for name in self.SUMS:
            setattr(self, name, getattr(self, name) + (get(name) or 0))
        histogram.merge(self.latency_histogram, get("latency_histogram") or {})
        return self

    @staticmethod
    def _mean(total: float, count: int) -> float | None:
        return total / count if count else None

    @staticmethod
    def _variance(total: float, squares: float, count: int) -> float | None:
        """The sample variance (n − 1); None below two values."""
        if count < 2:
            return None
        return max(0.0, (squares - total * total / count) / (count - 1))

    @property
    def latency_mean(self) -> float | None:
        return self._mean(self.latency_sum, self.count)

    @property
    def latency_variance(self) -> float | None:
        return self._variance(self.latency_sum, self.latency_sumsq, self.count)

    @property
    def cost_mean(self) -> float | None:
        return self._mean(self.cost_sum, self.count)

    @property
    def cost_variance(self) -> float | None:
        return self._variance(self.cost_sum, self.cost_sumsq, self.count)

    @property
    def quality_mean(self) -> float | None:
        return self._mean(self.quality_sum, self.quality_count)

    @property
    def quality_variance(self) -> float | None:
        return self._variance(self.quality_sum, self.quality_sumsq, self.quality_count)

    @property
    def feedback_count(self) -> int:
        return self.feedback_positive + self.feedback_negative

    @property
    def feedback_rate(self) -> float | None:
        """Positives / (positives + negatives); calls without feedback do not count."""
        return self._mean(self.feedback_positive, self.feedback_count)

    @property
    def error_rate(self) -> float | None:
        return self._mean(self.errors, self.count)

    def latency_quantile(self, q: float) -> float | None:
        """From the histogram: within histogram.RELATIVE_ERROR of the exact quantile."""
        return histogram.quantile(self.latency_histogram, q)


def _bucket() -> Case:
    """histogram.bucket_of in SQL."""
    return Case(
        When(latency_ms__lte=0, then=Value(histogram.ZERO_BUCKET)),
        default=Cast(
            Ceil(Ln(F("latency_ms")) / Value(histogram.LN_GAMMA, output_field=FloatField())),
            IntegerField(),
        ),
        output_field=IntegerField(),
    )


def _square(name: str):
    return Coalesce(Sum(F(name) * F(name), output_field=FloatField()), 0.0)


SQL_SUMS = {
    "count": Count("id"),
    "latency_sum": Coalesce(Sum("latency_ms"), 0.0),
    "latency_sumsq": _square("latency_ms"),
    "cost_sum": Coalesce(Sum("cost_usd"), 0.0),
    "cost_sumsq": _square("cost_usd"),
    "quality_count": Count("quality_score"),
    "quality_sum": Coalesce(Sum("quality_score"), 0.0),
    "quality_sumsq": _square("quality_score"),
    "feedback_positive": Count("id", filter=Q(feedback=1)),
    "feedback_negative": Count("id", filter=Q(feedback=-1)),
    "errors": Count("id", filter=Q(error=True)),
    "input_tokens_sum": Coalesce(Sum("input_tokens"), 0),
    "output_tokens_sum": Coalesce(Sum("output_tokens"), 0),
}


def raw_accumulators(
    events: QuerySet[CallEvent], columns: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> tuple[dict[tuple, Accumulator], dict[tuple, dict[str, Any]]]:
    """The accumulators of these events per key (the values of `columns`: name → a field's
    name or an expression), in two grouped queries: the sums (with the `extra` aggregates,
    returned beside them), then the histogram buckets. Each query sees what was committed when
    it ran, so an event committed between them may be in the buckets and not in the sums."""
    extra = extra or {}
    expressions = {name: e for name, e in columns.items() if not isinstance(e, str)}
    names = [name if name in expressions else column for name, column in columns.items()]
    keyed = events.annotate(**expressions)
    found: dict[tuple, Accumulator] = {}
    extras: dict[tuple, dict[str, Any]] = {}
    for row in keyed.values(*names).annotate(**SQL_SUMS, **extra).order_by():
        key = tuple(row[name] for name in names)
        found[key] = Accumulator(**{name: row[name] for name in Accumulator.SUMS})
        extras[key] = {name: row[name] for name in extra}
    buckets = keyed.annotate(bucket=_bucket()).values(*names, "bucket").annotate(n=Count("id"))
    for row in buckets.order_by():
        # Read committed: a group first committed between the two queries has no sums; its
        # buckets wait for the next read (the rollup's next run recomputes the hour anyway).
        accumulator = found.get(tuple(row[name] for name in names))
        if accumulator is not None:
            accumulator.latency_histogram[row["bucket"]] = row["n"]
    return found, extras


HOURLY = {**{d: d for d in DIMENSIONS}, "hour": TruncHour("occurred_at", tzinfo=dt.UTC)}


def raw_hours(events: QuerySet[CallEvent]) -> dict[Key, Accumulator]:
    """The accumulators of these events per DIMENSIONS and UTC hour (the rollup's rows)."""
    return raw_accumulators(events, HOURLY)[0]


def rollup_hours(rollups: QuerySet[HourlyRollup]) -> Iterable[tuple[Key, Accumulator]]:
    fields = (*DIMENSIONS, "hour", *Accumulator.SUMS, "latency_histogram")
    for row in rollups.values(*fields).iterator(chunk_size=2000):
        accumulator = Accumulator(**{name: row[name] for name in Accumulator.SUMS})
        accumulator.latency_histogram = {
            int(index): n for index, n in row["latency_histogram"].items()
        }
        yield (*(row[d] for d in DIMENSIONS), row["hour"]), accumulator


def finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None
