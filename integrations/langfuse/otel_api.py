"""POST /api/public/otel/v1/traces: the OTLP/HTTP endpoint the `langfuse` SDK exports spans to.
Thin: decode, ingest, answer in the request's encoding (integrations.langfuse.otel)."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request

from integrations.langfuse import otel
from integrations.langfuse.errors import LangfuseView
from portal.api.permissions import IsPersonOrService


class FirstRenderer(BaseContentNegotiation):
    """Errors are JSON whatever the exporter's Accept says (an OTLP exporter may ask only for
    protobuf); a 406 would be one more error it cannot read."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


ANSWER = inline_serializer(
    "OtlpExportTraceServiceResponse",
    {
        "partialSuccess": inline_serializer(
            "OtlpExportTracePartialSuccess",
            {
                "rejectedSpans": serializers.CharField(help_text="An int64, as protobuf's JSON."),
                "errorMessage": serializers.CharField(),
            },
            required=False,
        )
    },
)
TYPE_KEY = otel.TYPE
EXAMPLE = {
    "resourceSpans": [
        {
            "resource": {"attributes": []},
            "scopeSpans": [
                {
                    "scope": {"name": "langfuse-sdk"},
                    "spans": [
                        {
                            "traceId": "5b8efff798038103d269b633813fc60c",
                            "spanId": "eee19b7ec3c1b174",
                            "name": "root",
                            "startTimeUnixNano": "1700000000000000000",
                            "endTimeUnixNano": "1700000000100000000",
                            "attributes": [
                                {
                                    "key": "langfuse.observation.type",
                                    "value": {"stringValue": "span"},
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    ]
}


class OtelTraces(LangfuseView):
    """Service tokens report for their namespaces, people for the prompts they may read (the
    rights of POST /api/v1/events/; a scoped token needs `events:write`)."""

    permission_classes = [IsPersonOrService]
    content_negotiation_class = FirstRenderer

    @extend_schema(
        operation_id="langfuse_otel_traces",
        description=(
            "OTLP/HTTP trace export (protobuf or OTLP JSON, gzip allowed). Generation spans "
            "linked to a prompt (`langfuse.observation.prompt.name` and `.version`) become call "
            "events, with the validation, rights and idempotency of POST /api/v1/events/ (key: "
            "trace and span id). Other spans are accepted and counted. Headers: "
            "X-Portal-Events-Accepted, X-Portal-Events-Duplicates, X-Portal-Spans-Ignored; "
            "generations that could not be stored are in `partialSuccess` (rejectedSpans, "
            "errorMessage)."
        ),
        request={otel.PROTOBUF: OpenApiTypes.BINARY, otel.JSON: OpenApiTypes.OBJECT},
        responses={
            (200, otel.JSON): OpenApiResponse(ANSWER, description="ExportTraceServiceResponse."),
            (200, otel.PROTOBUF): OpenApiResponse(
                OpenApiTypes.BINARY, description="ExportTraceServiceResponse (protobuf)."
            ),
        },
        examples=[OpenApiExample("a span that is no generation", value=EXAMPLE, request_only=True)],
    )
    def post(self, request: Request) -> HttpResponse:
        export, media_type = otel.export_decode(
            body=request.body,
            content_type=request.content_type,
            content_encoding=request.META.get("HTTP_CONTENT_ENCODING", ""),
        )
        result = otel.spans_ingest(principal=request.user, export=export)
        response = HttpResponse(otel.response_encode(result, media_type), content_type=media_type)
        response["X-Portal-Events-Accepted"] = str(result.accepted)
        response["X-Portal-Events-Duplicates"] = str(result.duplicates)
        response["X-Portal-Spans-Ignored"] = str(result.ignored)
        return response
