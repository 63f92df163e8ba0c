"""OTLP trace exports built by hand, as the `langfuse` SDK shapes them (attributes of
integrations.langfuse.otel), and a small seeded world for the OTLP tests."""

import base64
import datetime as dt
import gzip
import os
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from prompts.models import Environment
from prompts.services import deployment_set, prompt_create, version_create
from teams.tokens import service_token_create
from tests.factories import MembershipFactory, NamespaceFactory, UserFactory, system_actor

PATH = "/api/public/otel/v1/traces"
PROTOBUF = "application/x-protobuf"


def basic(prefix: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{prefix}:{secret}".encode()).decode()


def any_value(value) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=value)


def generation(prompt="support/greet", version=2, **extra) -> dict:
    attributes = {
        "langfuse.observation.type": "generation",
        "langfuse.observation.prompt.name": prompt,
        "langfuse.observation.prompt.version": version,
        "langfuse.observation.model.name": "gpt-4o-mini",
        "langfuse.observation.usage_details": '{"prompt_tokens": 5, "completion_tokens": 7}',
        "langfuse.observation.cost_details": '{"input": 0.001, "output": 0.002}',
    }
    return {**attributes, **extra}


def span(attributes: dict, *, error: bool = False, latency_ms: int = 120, ids=None) -> Span:
    end = time.time_ns() - 60 * 10**9
    trace_id, span_id = ids or (os.urandom(16), os.urandom(8))
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        name="llm-call",
        start_time_unix_nano=end - latency_ms * 10**6,
        end_time_unix_nano=end,
        attributes=[KeyValue(key=k, value=any_value(v)) for k, v in attributes.items()],
        status=Status(code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_UNSET),
    )


def export(*spans: Span, resource: dict | None = None) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in (resource or {}).items():
        resource_spans.resource.attributes.add(key=key, value=any_value(value))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "langfuse-sdk"
    scope_spans.spans.extend(spans)
    return request


def post(client, body: bytes, authorization: str, *, content_type=PROTOBUF, **headers):
    return client.generic(
        "POST", PATH, body, content_type=content_type, HTTP_AUTHORIZATION=authorization, **headers
    )


def gzipped(request: ExportTraceServiceRequest) -> bytes:
    return gzip.compress(request.SerializeToString())


def counts(response) -> tuple[int, int, int]:
    return tuple(
        int(response[name])
        for name in (
            "X-Portal-Events-Accepted",
            "X-Portal-Events-Duplicates",
            "X-Portal-Spans-Ignored",
        )
    )


class Seeded:
    """Private namespace `support` (viewer vera) with `support/greet`: v1 in production, v2 in
    staging and development, v3 nowhere. Namespace `search`; a service token for each."""

    def __init__(self):
        self.admin = system_actor()
        self.namespace = NamespaceFactory(slug="support", visibility="private")
        self.other = NamespaceFactory(slug="search", visibility="private")
        self.prompt = prompt_create(actor=self.admin, namespace=self.namespace, name="greet")
        for text in ("Hello {{name}}", "Hi {{name}}", "Hey {{name}}"):
            version_create(prompt=self.prompt, author=self.admin, template=text, variables=["name"])
        for environment, number in (("development", 2), ("staging", 2), ("production", 1)):
            deployment_set(
                prompt=self.prompt,
                environment=Environment.objects.get(slug=environment),
                version=self.prompt.versions.get(number=number),
                actor=self.admin,
                action="deployment.seeded",
            )
        self.token, self.secret = service_token_create(
            actor=self.admin, namespaces=[self.namespace], name="otel tests"
        )
        self.other_token, self.other_secret = service_token_create(
            actor=self.admin, namespaces=[self.other], name="search"
        )
        self.viewer = UserFactory(username="vera")
        MembershipFactory(team=self.namespace.team, user=self.viewer, role="viewer")
        self.outsider = UserFactory(username="otto")

    @property
    def auth(self) -> str:
        return basic(self.token.prefix, self.secret)

    @property
    def other_auth(self) -> str:
        return basic(self.other_token.prefix, self.other_secret)


def minutes_ago(minutes: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)
