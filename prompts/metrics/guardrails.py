"""Experiment guardrails: what a guardrail may say (`guardrails_clean`).

A guardrail names a metric and how much worse than the control an arm may be on it before the
experiment is stopped: `{"metric": "error_rate", "max_increase": 0.02}` (lower is better:
error rate, latency, cost) or `{"metric": "quality_score", "max_decrease": 0.05}` (higher is
better: quality, feedback). The amount is in the metric's units (a rate's is a fraction,
milliseconds for latency, dollars for cost).
"""

import math
from typing import Any

from portal.errors import Invalid

# The bad direction of each metric: the only bound a guardrail on it may set.
BAD_DIRECTION = {
    "quality_score": "max_decrease",
    "feedback": "max_decrease",
    "latency_ms": "max_increase",
    "latency_p95": "max_increase",
    "cost_usd": "max_increase",
    "error_rate": "max_increase",
}
# Metrics whose values are fractions (0..1): an allowed change above 1 could never breach.
FRACTIONS = frozenset({"quality_score", "feedback", "error_rate"})
MAX_GUARDRAILS = len(BAD_DIRECTION)


def _invalid(message: str) -> Invalid:
    return Invalid.field("guardrails", message)


def _clean_one(index: int, item: Any) -> dict[str, Any]:
    where = f"Guardrail {index + 1}"
    if not isinstance(item, dict):
        raise _invalid(f"{where} must be an object such as {{'metric': 'error_rate', ...}}.")
    metric = item.get("metric")
    if metric not in BAD_DIRECTION:
        names = ", ".join(BAD_DIRECTION)
        raise _invalid(f"{where}: metric must be one of {names} (got {metric!r}).")
    bound = BAD_DIRECTION[metric]
    unknown = sorted(set(item) - {"metric", bound})
    if unknown:
        wrong = {"max_increase", "max_decrease"} - {bound}
        if wrong & set(unknown):
            worse = "falls" if bound == "max_decrease" else "rises"
            raise _invalid(
                f"{where}: {metric} is worse when it {worse}, so its guardrail sets {bound}, "
                f"not {wrong.pop()}."
            )
        raise _invalid(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}.")
    if bound not in item:
        raise _invalid(f"{where}: {metric} needs {bound} (how much worse than the control).")
    amount = item[bound]
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount):
        raise _invalid(f"{where}: {bound} must be a number (got {amount!r}).")
    if amount <= 0:
        raise _invalid(f"{where}: {bound} must be greater than 0 (got {amount}).")
    if metric in FRACTIONS and amount >= 1:
        raise _invalid(f"{where}: {metric} is a fraction (0..1), so {bound} must be below 1.")
    return {"metric": metric, bound: float(amount)}


def guardrails_clean(value: Any) -> list[dict[str, Any]]:
    """The guardrails as stored: a list of `{"metric", "max_increase" | "max_decrease"}`, one
    per metric, amounts as floats. `None` means none. Raises `Invalid` (field `guardrails`)
    naming the first problem."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid("Guardrails must be a list of objects.")
    if len(value) > MAX_GUARDRAILS:
        raise _invalid(f"At most {MAX_GUARDRAILS} guardrails (one per metric).")
    cleaned = [_clean_one(index, item) for index, item in enumerate(value)]
    metrics = [item["metric"] for item in cleaned]
    repeated = sorted({metric for metric in metrics if metrics.count(metric) > 1})
    if repeated:
        raise _invalid(f"One guardrail per metric: {', '.join(repeated)} is given twice.")
    return cleaned
