"""API of call events and metrics: POST /events/, GET /prompts/{ns}/{name}/metrics/."""

import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.permissions import IsPersonOrService, IsPersonOrServiceReading
from portal.api.views import parse_query
from portal.errors import Invalid
from prompts.metrics import selectors, services
from prompts.metrics import serializers as s
from prompts.metrics.aggregates import finite
from prompts.metrics.schemas import batch_records
from prompts.models import Environment
from prompts.selectors import prompt_get

DEFAULT_RANGE = dt.timedelta(days=7)
# Far enough for any event kept; the arithmetic on hours and ranges stays inside datetime's.
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


class Events(APIView):
    """Service tokens report for their namespaces, people for the prompts they may read."""

    permission_classes = [IsPersonOrService]

    @extend_schema(request=s.EventBatchSerializer, responses={202: s.IngestResultSerializer})
    def post(self, request: Request) -> Response:
        result = services.events_ingest(principal=request.user, records=batch_records(request.data))
        body = {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": result.rejected,
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)


def _figures(figures: selectors.Figures) -> dict[str, Any]:
    latency = {
        f"p{round(q * 100)}": finite(figures.latency_percentile(q)) for q in selectors.QUANTILES
    }
    return {
        "count": figures.count,
        "latency_ms": {**latency, "mean": finite(figures.latency_mean)},
        "input_tokens": {"mean": finite(figures._mean(figures.input_tokens_sum, figures.count))},
        "output_tokens": {"mean": finite(figures._mean(figures.output_tokens_sum, figures.count))},
        "cost_usd": {"total": finite(figures.cost_sum), "mean": finite(figures.cost_mean)},
        "quality_score": {"mean": finite(figures.quality_mean), "count": figures.quality_count},
        "feedback": {
            "positive_rate": finite(figures.feedback_rate),
            "positive": figures.feedback_positive,
            "negative": figures.feedback_negative,
        },
        "error_rate": finite(figures.error_rate),
        "errors": figures.errors,
    }


def answer_json(answer: selectors.MetricsAnswer) -> dict[str, Any]:
    return {
        "prompt": answer.prompt.full_name,
        "environment": answer.environment.slug if answer.environment else None,
        "from": answer.start.isoformat(),
        "to": answer.end.isoformat(),
        "model": answer.model,
        "experiment": answer.experiment_id,
        "group": list(answer.group),
        "percentiles": answer.percentiles,
        "relative_error": answer.relative_error,
        "complete_until": answer.complete_until.isoformat(),
        "groups": [{**group.key, **_figures(group.figures)} for group in answer.groups],
    }


QUERY = [
    OpenApiParameter("environment", str, description="An environment's slug (default: all)."),
    OpenApiParameter("from", dt.datetime, description="ISO 8601 (default: 7 days before `to`)."),
    OpenApiParameter("to", dt.datetime, description="ISO 8601, exclusive (default: now)."),
    OpenApiParameter("model", str, description="Only calls of this model."),
    OpenApiParameter("group", str, description="version (default), arm, day or model."),
    OpenApiParameter("exact", str, description="1: exact percentiles; 0: the histogram's."),
]


class PromptMetrics(APIView):
    """Readers of the prompt (people who may read it, service tokens of its namespace)."""

    permission_classes = [IsPersonOrServiceReading]

    @extend_schema(parameters=QUERY, responses={200: dict})
    def get(self, request: Request, namespace: str, name: str) -> Response:
        prompt = prompt_get(user=request.user, namespace=namespace, name=name)
        query = parse_query(s.MetricsQuerySerializer, request)
        environment = None
        if "environment" in query:
            environment = Environment.objects.filter(slug=query["environment"]).first()
            if environment is None:
                raise Invalid.field("environment", f"No environment {query['environment']}.")
        for name in ("from", "to"):
            if name in query and not EARLIEST <= query[name] <= LATEST:
                raise Invalid.field(name, f"Give a time between {EARLIEST:%Y} and {LATEST:%Y}.")
        end = query.get("to") or timezone.now()
        start = query.get("from") or end - DEFAULT_RANGE
        exact = {"1": True, "true": True, "0": False, "false": False}.get(query.get("exact"))
        answer = selectors.metrics_for(
            prompt=prompt,
            start=start,
            end=end,
            environment=environment,
            model=query.get("model"),
            group=query.get("group", ("version",)),
            exact=exact,
        )
        return Response(answer_json(answer))
