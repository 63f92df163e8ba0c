"""A prompt-linked generation span of an OTLP export as a POST /events/ record.

The values come from a foreign exporter: a value that converts (OTLP intValue, "3", 3.0 for a
count; an int for a cost) is converted, and any other value (a string of other digits such as
"²", a number too large for a float or for Python's int parser, a usage_details that is no
JSON object) is passed on as it came, for the event's validation to refuse by field name.
Nothing here raises on the exporter's values.
"""

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

TYPE = "langfuse.observation.type"
PROMPT_NAME = "langfuse.observation.prompt.name"
PROMPT_VERSION = "langfuse.observation.prompt.version"
MODEL = "langfuse.observation.model.name"
USAGE = "langfuse.observation.usage_details"
COST = "langfuse.observation.cost_details"
LEVEL = "langfuse.observation.level"
ENVIRONMENT = "langfuse.environment"
USER = "user.id"
INPUT_KEYS = ("input", "prompt_tokens", "input_tokens")
OUTPUT_KEYS = ("output", "completion_tokens", "output_tokens")
MAX_VERSION = 2**31 - 1  # PromptVersion.number's column
MAX_DIGITS = 18  # any count we store has fewer; longer digit strings stay strings


def _integer(value: Any) -> Any:
    """A count as an int where it is one (OTLP intValue, "3", 3.0); otherwise as given."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        digits = value.strip()
        if digits.isascii() and digits.isdigit() and len(digits) <= MAX_DIGITS:
            return int(digits)
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _float(value: Any) -> Any:
    """A number as a float where it fits one; otherwise as given."""
    if not _number(value):
        return value
    try:
        return float(value)
    except OverflowError:
        return value


def _details(value: Any) -> Any:
    """usage_details / cost_details as a dict: the SDK's JSON string or a key-value list;
    none is {}. Anything else comes back as given (its counts are then that value)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):  # ValueError: also an int of over 4300 digits
            return value
        return parsed if isinstance(parsed, dict) else value
    return value


def _tokens(usage: Any, keys: tuple[str, ...]) -> Any:
    if not isinstance(usage, dict):
        return usage
    return next((_integer(usage[key]) for key in keys if key in usage), 0)


def _cost(costs: Any) -> Any:
    if not isinstance(costs, dict):
        return costs
    if "total" in costs:
        return _float(costs["total"])
    return _float(sum(value for value in costs.values() if _number(value)))


def _time(nanoseconds: int) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(nanoseconds / 1e9, tz=dt.UTC)
    except (OverflowError, ValueError, OSError):
        return None


@dataclass(frozen=True)
class Generation:
    """A generation span linked to a prompt, with what an event needs from it."""

    span_id: str
    key: str | None  # the idempotency key; None: the span has no valid ids
    attributes: dict[str, Any]
    resource_environment: Any
    start_ns: int
    end_ns: int
    name: str
    failed: bool

    @property
    def prompt(self) -> Any:
        return self.attributes.get(PROMPT_NAME)

    @property
    def version(self) -> Any:
        return _integer(self.attributes.get(PROMPT_VERSION))

    @property
    def environment(self) -> str | None:
        for value in (self.attributes.get(ENVIRONMENT), self.resource_environment):
            if isinstance(value, str) and value:
                return value
        return None

    @property
    def deployment_key(self) -> tuple[str, int] | None:
        """(prompt, version) where both are values a deployment can be looked up by."""
        prompt, version = self.prompt, self.version
        if (
            isinstance(prompt, str)
            and isinstance(version, int)
            and not isinstance(version, bool)
            and 1 <= version <= MAX_VERSION
        ):
            return prompt, version
        return None


def event_record(generation: Generation, environment: str) -> dict[str, Any]:
    """The POST /events/ record of a generation (validated by events_ingest)."""
    attributes = generation.attributes
    usage = _details(attributes.get(USAGE))
    record = {
        "prompt": generation.prompt,
        "version": generation.version,
        "environment": environment,
        "latency_ms": (generation.end_ns - generation.start_ns) / 1e6,
        "input_tokens": _tokens(usage, INPUT_KEYS),
        "output_tokens": _tokens(usage, OUTPUT_KEYS),
        "cost_usd": _cost(_details(attributes.get(COST))),
        "error": generation.failed,
        "model": attributes.get(MODEL) or "",
        "idempotency_key": generation.key,
        "occurred_at": _time(generation.end_ns),
        "metadata": {
            "source": "otlp",
            "span_id": generation.span_id,
            "name": generation.name[:200],
        },
    }
    if attributes.get(USER) is not None:
        record["subject"] = attributes[USER]
    return record
