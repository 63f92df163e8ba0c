"""OTLP/HTTP trace exports (what the `langfuse` SDK's span processor sends) into call events.

A generation span linked to a prompt (`langfuse.observation.type` = generation with
`langfuse.observation.prompt.name` and `.prompt.version`, which the SDK sets when a prompt
object is passed) becomes one call event, ingested by `prompts.metrics.services.events_ingest`
with the caller's principal: the validation, permissions and idempotency of POST /events/.
Every other span is accepted and counted as ignored. The idempotency key is the trace and span
id, so an export the exporter sends again counts once.

Bodies are protobuf or OTLP's JSON mapping (ids in hex), gzip allowed; a body that inflates
beyond MAX_INFLATED_BYTES is refused without inflating the rest.
"""

import base64
import contextlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from integrations.langfuse.otel_mapping import (
    ENVIRONMENT,
    LEVEL,
    PROMPT_NAME,
    TYPE,
    Generation,
    event_record,
)
from portal.errors import DomainError, ErrorCode
from prompts.metrics.schemas import MAX_BATCH
from prompts.metrics.services import events_ingest
from prompts.models import Deployment, Environment
from teams.permissions import Principal, namespaces_visible_to

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_INFLATED_BYTES = 16 * 1024 * 1024
MAX_ERROR_MESSAGE = 4000
INFLATE_CHUNK = 64 * 1024


class MalformedExport(DomainError):
    code = ErrorCode.PARSE_ERROR
    status = 400


class ExportTooLarge(DomainError):
    code = ErrorCode.BODY_TOO_LARGE
    status = 413


class UnsupportedExport(DomainError):
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    status = 415


# --- Decoding ------------------------------------------------------------------------------


def _inflate(body: bytes, limit: int) -> bytes:
    """A gzip body inflated chunk by chunk, refused as soon as it passes `limit`."""
    parts: list[bytes] = []
    size = 0
    data = body
    try:
        while data:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            while data and not inflater.eof:
                part = inflater.decompress(data, INFLATE_CHUNK)
                size += len(part)
                if size > limit:
                    raise ExportTooLarge(f"The body inflates to more than {limit} bytes.")
                parts.append(part)
                data = inflater.unconsumed_tail
            if not inflater.eof:
                raise MalformedExport("The gzip body is truncated.")
            data = inflater.unused_data  # a further gzip member
    except zlib.error as exc:
        raise MalformedExport(f"The body is not valid gzip: {exc}.") from exc
    return b"".join(parts)


def _ids_to_base64(node: dict) -> None:
    """OTLP's JSON gives ids in hex, protobuf's JSON mapping wants base64; a value that is no
    hex is left for the parser (some exporters send base64)."""
    for key in ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id"):
        if isinstance(node.get(key), str):
            with contextlib.suppress(ValueError):
                node[key] = base64.b64encode(bytes.fromhex(node[key])).decode()


def _from_json(body: bytes) -> ExportTraceServiceRequest:
    document = json.loads(body)
    if not isinstance(document, dict):
        raise MalformedExport("The body must be a JSON object (an ExportTraceServiceRequest).")
    for resource in _list(document, "resourceSpans", "resource_spans"):
        for scope in _list(resource, "scopeSpans", "scope_spans"):
            for span in _list(scope, "spans"):
                _ids_to_base64(span)
                for link in _list(span, "links"):
                    _ids_to_base64(link)
    return json_format.ParseDict(document, ExportTraceServiceRequest(), ignore_unknown_fields=True)


def _list(node: Any, *keys: str) -> list[dict]:
    if not isinstance(node, dict):
        return []
    for key in keys:
        if isinstance(node.get(key), list):
            return [item for item in node[key] if isinstance(item, dict)]
    return []


def export_decode(
    *, body: bytes, content_type: str, content_encoding: str
) -> tuple[ExportTraceServiceRequest, str]:
    """The export in a body, and its media type (the answer's); MalformedExport (400),
    ExportTooLarge (413) or UnsupportedExport (415) otherwise."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in (PROTOBUF, JSON):
        raise UnsupportedExport(f"Send {PROTOBUF} or {JSON} (OTLP/HTTP), not {media_type!r}.")
    encoding = content_encoding.strip().lower()
    if encoding == "gzip":
        body = _inflate(body, MAX_INFLATED_BYTES)
    elif encoding not in ("", "identity"):
        raise UnsupportedExport(f"Content-Encoding {encoding!r}: only gzip is accepted.")
    if len(body) > MAX_INFLATED_BYTES:
        raise ExportTooLarge(f"The body is larger than {MAX_INFLATED_BYTES} bytes.")
    try:
        if media_type == JSON:
            return _from_json(body), media_type
        return ExportTraceServiceRequest.FromString(body), media_type
    except MalformedExport:
        raise
    except Exception as exc:  # any failure of the parsers is the body's fault
        raise MalformedExport(f"The body is no OTLP ExportTraceServiceRequest: {exc}.") from exc


# --- Spans ---------------------------------------------------------------------------------


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, kind) if kind else None


def _attributes(pairs: Iterator[KeyValue]) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def generations(export: ExportTraceServiceRequest) -> tuple[list[Generation], int]:
    """The generation spans linked to a prompt, and how many other spans there were."""
    found: list[Generation] = []
    ignored = 0
    for resource_spans in export.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attributes = _attributes(span.attributes)
                if attributes.get(TYPE) != "generation" or not attributes.get(PROMPT_NAME):
                    ignored += 1
                    continue
                has_ids = len(span.trace_id) == 16 and len(span.span_id) == 8
                found.append(
                    Generation(
                        span_id=span.span_id.hex(),
                        key=f"otel:{span.trace_id.hex()}:{span.span_id.hex()}" if has_ids else None,
                        attributes=attributes,
                        resource_environment=resource.get(ENVIRONMENT),
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        name=span.name,
                        failed=span.status.code == Status.STATUS_CODE_ERROR
                        or attributes.get(LEVEL) == "ERROR",
                    )
                )
    return found, ignored


def _running_environments(
    *, principal: Principal, generations: list[Generation]
) -> dict[tuple[str, int], str]:
    """(prompt, version) → the highest environment running it, for the prompts the caller
    may report for (one query; an invisible prompt finds nothing, as in events_ingest)."""
    pairs = {g.deployment_key for g in generations} - {None}
    names = {name.split("/", 1)[1] for name, _ in pairs if "/" in name}
    if not names:
        return {}
    rows = (
        Deployment.objects.filter(
            prompt__namespace__in=namespaces_visible_to(user=principal),
            prompt__name__in=names,
            version__number__in={version for _, version in pairs},
        )
        .order_by("environment__order")
        .values_list(
            "prompt__namespace__slug", "prompt__name", "version__number", "environment__slug"
        )
    )
    running: dict[tuple[str, int], str] = {}
    for namespace, name, number, environment in rows:
        running[(f"{namespace}/{name}", number)] = environment  # the highest order wins
    return running


@dataclass
class OtelResult:
    accepted: int = 0
    duplicates: int = 0
    ignored: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (span id, reason)

    def response(self) -> ExportTraceServiceResponse:
        answer = ExportTraceServiceResponse()
        if self.rejected:
            reasons = "; ".join(f"span {span}: {reason}" for span, reason in self.rejected)
            answer.partial_success.rejected_spans = len(self.rejected)
            answer.partial_success.error_message = reasons[:MAX_ERROR_MESSAGE]
        return answer


def _reason(errors: dict[str, list[str]]) -> str:
    return ", ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items())


def spans_ingest(*, principal: Principal, export: ExportTraceServiceRequest) -> OtelResult:
    """Every prompt-linked generation of the export as a call event of `principal`."""
    found, ignored = generations(export)
    result = OtelResult(ignored=ignored)
    ours = set(Environment.objects.values_list("slug", flat=True))
    needs_lookup = [g for g in found if g.environment not in ours]
    running = _running_environments(principal=principal, generations=needs_lookup)
    ready: list[tuple[Generation, dict[str, Any]]] = []
    for generation in found:
        if generation.key is None:
            result.rejected.append((generation.span_id, "the span has no valid trace and span id"))
            continue
        environment = generation.environment
        if environment not in ours:
            environment = running.get(generation.deployment_key)
        if environment is None:
            result.rejected.append(
                (
                    generation.span_id,
                    f"environment: {ENVIRONMENT} names none of ours and version "
                    f"{generation.version} of {generation.prompt} runs in no environment",
                )
            )
            continue
        ready.append((generation, event_record(generation, environment)))
    for start in range(0, len(ready), MAX_BATCH):
        batch = ready[start : start + MAX_BATCH]
        outcome = events_ingest(principal=principal, records=[record for _, record in batch])
        result.accepted += outcome.accepted
        result.duplicates += outcome.duplicates
        for rejection in outcome.rejected:
            span = batch[rejection["index"]][0].span_id
            result.rejected.append((span, _reason(rejection["errors"])))
    return result


def response_encode(result: OtelResult, media_type: str) -> bytes:
    """The ExportTraceServiceResponse in the request's encoding."""
    answer = result.response()
    if media_type == JSON:
        return json_format.MessageToJson(answer, indent=None).encode()
    return answer.SerializeToString()
