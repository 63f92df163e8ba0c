"""OTLP generations into metrics: the real `langfuse` SDK tracing against a running portal
(gunicorn on the suite's database), and hand-built exports (protobuf, JSON, gzip) through the
test client. Data is made through the services."""

import gzip
import json
import time
import urllib.request

import pytest
import requests
from django.conf import settings
from langfuse import Langfuse, propagate_attributes
from langfuse.api import Prompt_Text
from langfuse.model import TextPromptClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import TracerProvider
from rest_framework.test import APIClient

from integrations.langfuse.otel import MAX_INFLATED_BYTES
from prompts.metrics.models import CallEvent
from tests.integrations.otlp import (
    PATH,
    Seeded,
    basic,
    counts,
    export,
    generation,
    gzipped,
    post,
    span,
)
from tests.live import Server, process_environment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        env = process_environment(settings.REDIS_URL)
    started = Server(env).start()
    yield started
    started.stop()


@pytest.fixture
def seeded():
    return Seeded()


@pytest.fixture
def exports(monkeypatch):
    """Every OTLP request the SDK's exporter sends (headers and the bytes, gzip as sent),
    recorded on its way through requests' real session."""
    sent: list[tuple[dict, bytes]] = []
    original = requests.Session.request

    def recording(self, method, url, *args, **kwargs):
        if url.endswith(PATH):
            sent.append((dict(kwargs.get("headers") or {}), kwargs.get("data")))
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", recording)
    return sent


def sdk(server, seeded, **options) -> Langfuse:
    return Langfuse(
        public_key=seeded.token.prefix,
        secret_key=seeded.secret,
        base_url=server.url,
        tracer_provider=TracerProvider(),  # one per test: no resource left by another client
        **options,
    )


def prompt_client(langfuse: Langfuse, version: int) -> TextPromptClient:
    """The SDK's own prompt object: from our Langfuse prompt API, or (while it is not served)
    built by hand as the SDK builds it from the API's answer."""
    try:
        return langfuse.get_prompt("support/greet", version=version, cache_ttl_seconds=0)
    except Exception:  # the colleague's prompt API is not there yet
        prompt = Prompt_Text(
            name="support/greet",
            version=version,
            prompt="Hi {{name}}",
            config={},
            labels=[],
            tags=[],
            type="text",
        )
        return TextPromptClient(prompt)


def metrics(seeded, **query) -> dict:
    client = APIClient()
    client.force_authenticate(seeded.admin)
    url = "/api/v1/prompts/support/greet/metrics/"
    response = client.get(url, {"exact": "1", **query})
    assert response.status_code == 200, response.content
    return response.json()


def test_a_generation_traced_by_the_sdk_is_a_call_event_in_the_metrics(server, seeded, exports):
    langfuse = sdk(server, seeded, environment="staging")
    try:
        prompt = prompt_client(langfuse, 2)
        with (
            langfuse.start_as_current_observation(as_type="span", name="handle-ticket"),
            propagate_attributes(user_id="customer-7"),
        ):
            with langfuse.start_as_current_observation(
                as_type="generation",
                name="reply",
                prompt=prompt,
                model="gpt-4o-mini",
                usage_details={"input": 11, "output": 7, "total": 18},
                cost_details={"input": 0.001, "output": 0.002, "total": 0.0042},
            ) as reply:
                time.sleep(0.05)
                reply.update(output="Hi Ada")
            failed = langfuse.start_observation(
                as_type="generation",
                name="retry",
                prompt=prompt,
                model="gpt-4o-mini",
                level="ERROR",
                status_message="rate limited",
            )
            failed.end()
        langfuse.flush()
    finally:
        langfuse.shutdown()

    events = {e.error: e for e in CallEvent.objects.select_related("environment", "version")}
    assert set(events) == {False, True}
    ok = events[False]
    assert (ok.version.number, ok.environment.slug, ok.model) == (2, "staging", "gpt-4o-mini")
    assert (ok.input_tokens, ok.output_tokens, ok.cost_usd) == (11, 7, 0.0042)
    assert ok.subject == "customer-7"
    assert 50 <= ok.latency_ms < 5000
    assert events[True].environment.slug == "staging"

    answer = metrics(seeded, environment="staging")
    (group,) = answer["groups"]
    assert (group["version"], group["count"], group["errors"]) == (2, 2, 1)
    assert group["cost_usd"]["total"] == pytest.approx(0.0042)

    # The exporter sends the same batch again (a retry after a timeout): it counts once.
    assert exports, "the SDK sent no OTLP request"
    headers, body = exports[0]
    again = urllib.request.Request(server.url + PATH, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(again, timeout=10) as response:
        assert response.status == 200
        assert response.headers["X-Portal-Events-Accepted"] == "0"
        assert response.headers["X-Portal-Events-Duplicates"] == "2"
        assert response.headers["X-Portal-Spans-Ignored"] == "1"
        ExportTraceServiceResponse.FromString(response.read())
    assert CallEvent.objects.count() == 2


def test_without_an_environment_the_event_counts_where_the_version_runs(server, seeded):
    langfuse = sdk(server, seeded)
    try:
        for version in (1, 2):
            with langfuse.start_as_current_observation(
                as_type="generation", name="reply", prompt=prompt_client(langfuse, version)
            ):
                pass
        langfuse.flush()
    finally:
        langfuse.shutdown()

    found = CallEvent.objects.values_list("version__number", "environment__slug")
    # v1 runs in production; v2 in development and staging, the highest of which is staging.
    assert sorted(found) == [(1, "production"), (2, "staging")]


def test_protobuf_counts_generations_and_ignores_other_spans(seeded):
    client = APIClient()
    body = export(
        span(generation()),
        span({"langfuse.observation.type": "span"}),
        span({"langfuse.observation.type": "generation"}),  # no prompt
        span(generation(**{"langfuse.observation.level": "ERROR"})),
        span(generation(), error=True),
        resource={"langfuse.environment": "production"},
    )

    response = post(client, gzipped(body), seeded.auth, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-protobuf"
    assert counts(response) == (3, 0, 2)
    assert not ExportTraceServiceResponse.FromString(response.content).HasField("partial_success")
    events = CallEvent.objects.filter(environment__slug="production", version__number=2)
    assert sorted(events.values_list("error", flat=True)) == [False, True, True]
    assert {(e.input_tokens, e.output_tokens, e.cost_usd) for e in events} == {(5, 7, 0.003)}


def test_otlp_json_with_hex_ids_works_too(seeded):
    trace_id, span_id = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
    end = time.time_ns() - 10**9
    attributes = [
        {
            "key": key,
            "value": {"intValue": str(value)} if isinstance(value, int) else {"stringValue": value},
        }
        for key, value in generation(**{"langfuse.environment": "staging"}).items()
    ]
    body = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": span_id,
                                "name": "reply",
                                "startTimeUnixNano": str(end - 30 * 10**6),
                                "endTimeUnixNano": str(end),
                                "attributes": attributes,
                                "status": {"code": 2},
                            }
                        ]
                    }
                ]
            }
        ]
    }

    response = post(
        APIClient(), json.dumps(body).encode(), seeded.auth, content_type="application/json"
    )

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json() == {}
    assert counts(response) == (1, 0, 0)
    event = CallEvent.objects.get()
    assert event.idempotency_key == f"otel:{trace_id}:{span_id}"
    assert (event.environment.slug, event.error, event.latency_ms) == ("staging", True, 30.0)


def test_rejected_generations_are_a_partial_success(seeded):
    body = export(
        span(generation(version=3)),  # runs nowhere and no environment given
        span(generation(prompt="support/missing", **{"langfuse.environment": "staging"})),
        span(generation()),
    )

    response = post(APIClient(), body.SerializeToString(), seeded.auth)

    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert answer.rejected_spans == 2
    assert "runs in no environment" in answer.error_message
    assert "no prompt support/missing" in answer.error_message
    assert counts(response) == (1, 0, 0)


def test_a_service_token_of_another_namespace_stores_nothing(seeded):
    body = export(span(generation(**{"langfuse.environment": "staging"})))

    response = post(APIClient(), body.SerializeToString(), seeded.other_auth)

    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert answer.rejected_spans == 1
    assert "no prompt support/greet" in answer.error_message
    assert not CallEvent.objects.exists()


def test_a_gzip_bomb_is_refused_without_inflating_it(seeded):
    bomb = gzip.compress(b"\0" * (MAX_INFLATED_BYTES + 1))
    assert len(bomb) < settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    response = post(APIClient(), bomb, seeded.auth, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


@pytest.mark.parametrize(
    ("body", "content_type", "encoding"),
    [
        (b"garbage", "application/x-protobuf", ""),
        (b"\x1f\x8b not gzip", "application/x-protobuf", "gzip"),
        (b"{not json", "application/json", ""),
        (b"[1, 2]", "application/json", ""),
        (b'{"resourceSpans": "many"}', "application/json", ""),
    ],
)
def test_a_malformed_body_is_a_400_problem(seeded, body, content_type, encoding):
    extra = {"HTTP_CONTENT_ENCODING": encoding} if encoding else {}
    response = post(APIClient(), body, seeded.auth, content_type=content_type, **extra)

    assert response.status_code == 400, response.content
    assert response.json()["status"] == 400


HUGE = "1" + "0" * 400  # a JSON integer no float holds
LONGER = "9" * 5000  # more digits than Python's int() parses


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({"langfuse.observation.prompt.version": "²"}, "version"),
        ({"langfuse.observation.prompt.version": LONGER}, "version"),
        ({"langfuse.observation.prompt.version": 1e300}, "version"),
        ({"langfuse.observation.usage_details": '{"prompt_tokens": "²"}'}, "input_tokens"),
        ({"langfuse.observation.usage_details": f'{{"prompt_tokens": {LONGER}}}'}, "input_tokens"),
        ({"langfuse.observation.usage_details": f'{{"prompt_tokens": {HUGE}}}'}, "input_tokens"),
        ({"langfuse.observation.usage_details": "not json"}, "input_tokens"),
        ({"langfuse.observation.cost_details": f'{{"total": {HUGE}}}'}, "cost_usd"),
        ({"langfuse.observation.cost_details": f'{{"input": {HUGE}, "output": 1}}'}, "cost_usd"),
        ({"langfuse.observation.cost_details": '{"total": 1e999}'}, "cost_usd"),
        ({"langfuse.observation.cost_details": "[1, 2]"}, "cost_usd"),
    ],
)
def test_a_value_that_does_not_convert_rejects_its_span_only(seeded, attributes, field):
    body = export(
        span(generation(**{"langfuse.environment": "staging", **attributes})),
        span(generation(**{"langfuse.environment": "staging"})),
    )

    response = post(APIClient(), body.SerializeToString(), seeded.auth)

    assert response.status_code == 200, response.content
    answer = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert answer.rejected_spans == 1
    assert f"{field}:" in answer.error_message
    assert counts(response) == (1, 0, 0)
    assert CallEvent.objects.count() == 1


def test_an_unsupported_media_type_is_a_415(seeded):
    response = post(APIClient(), b"spans", seeded.auth, content_type="text/plain")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_a_wrong_basic_secret_is_a_401(seeded):
    body = export(span(generation())).SerializeToString()

    response = post(APIClient(), body, basic(seeded.token.prefix, seeded.token.prefix + ".wrong"))

    assert response.status_code == 401
    assert not CallEvent.objects.exists()
