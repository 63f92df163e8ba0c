"""The shape of a call event, validated a whole batch at a time by pydantic (compiled; per-record
DRF serializers are an order of magnitude slower). The checks that need the database or the
clock are the ingest service's (prompts.metrics.services)."""

import json
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from portal.errors import Invalid
from portal.validators import SLUG_PATTERN
from prompts.models import ARM_LABELS

MAX_BATCH = 1000
MAX_METADATA_BYTES = 2048
MAX_TOKENS = 2**31 - 1  # the integer columns
SLUG = SLUG_PATTERN.removeprefix("^").removesuffix("$")


def _small_json(value: dict[str, Any]) -> str:
    """The metadata as the JSON text that is stored; refused above MAX_METADATA_BYTES."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is larger than {MAX_METADATA_BYTES} bytes as JSON")
    return text


# Bounds keep every sum (and sum of squares) of a retention window finite.
MAX_LATENCY_MS = 86_400_000.0  # a day
MAX_COST_USD = 1_000_000.0
Latency = Annotated[float, Strict(), Field(ge=0, le=MAX_LATENCY_MS, allow_inf_nan=False)]
Cost = Annotated[float, Strict(), Field(ge=0, le=MAX_COST_USD, allow_inf_nan=False)]
Tokens = Annotated[StrictInt, Field(ge=0, le=MAX_TOKENS)]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: Annotated[str, Field(pattern=rf"^{SLUG}/{SLUG}$", max_length=127)]
    version: Annotated[StrictInt, Field(ge=1, le=MAX_TOKENS)]
    environment: Annotated[str, Field(pattern=SLUG_PATTERN, max_length=63)]
    experiment: Annotated[StrictInt, Field(ge=1, le=2**63 - 1)] | None = None
    arm: Literal[*ARM_LABELS] | None = None
    latency_ms: Latency
    input_tokens: Tokens = 0
    output_tokens: Tokens = 0
    cost_usd: Cost = 0.0
    quality_score: Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)] | None = None
    feedback: Literal[-1, 0, 1] | None = None
    error: StrictBool = False
    model: Annotated[str, Field(max_length=200)] = ""
    subject: Annotated[str, Field(max_length=200)] | None = None
    idempotency_key: Annotated[str, Field(min_length=1, max_length=100)]
    occurred_at: AwareDatetime
    metadata: Annotated[dict[str, Any], AfterValidator(_small_json)] | None = None

    @model_validator(mode="after")
    def _arm_needs_experiment(self) -> "EventIn":
        if self.arm is not None and self.experiment is None:
            raise ValueError("arm is only given with experiment")
        return self


EVENTS = TypeAdapter(list[EventIn])
Errors = dict[str, list[str]]


def batch_records(body: Any) -> list[Any]:
    """The records of a body that is a batch at all; anything else is a 422 problem."""
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise Invalid.field("events", 'The body must be an object {"events": [...]}.')
    unknown = sorted(set(body) - {"events"})
    if unknown:
        raise Invalid.field(unknown[0], "Unknown field: the body holds only events.")
    records = body["events"]
    if len(records) > MAX_BATCH:
        raise Invalid.field("events", f"At most {MAX_BATCH} events per batch.")
    return records


def _field_of(loc: tuple) -> str:
    return str(loc[1]) if len(loc) > 1 else "non_field_errors"


def events_parse(records: list[Any]) -> tuple[dict[int, EventIn], dict[int, Errors]]:
    """Validate a batch in one pass: the good records by index, and the bad ones' errors per
    field. A batch with bad records is validated again without them (two passes, no loop)."""
    try:
        return dict(enumerate(EVENTS.validate_python(records))), {}
    except ValidationError as exc:
        rejected: dict[int, Errors] = {}
        for error in exc.errors(include_url=False, include_context=False, include_input=False):
            loc = error["loc"]
            message = error["msg"].removeprefix("Value error, ")
            rejected.setdefault(loc[0], {}).setdefault(_field_of(loc), []).append(message)
    good = [index for index in range(len(records)) if index not in rejected]
    parsed = EVENTS.validate_python([records[index] for index in good])
    return dict(zip(good, parsed, strict=True)), rejected
