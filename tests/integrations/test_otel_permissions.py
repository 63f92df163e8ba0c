"""The permission matrix of POST /api/public/otel/v1/traces: who may send spans, what is
stored, and that a refused caller changes nothing. A caller who may not report for the prompt
gets a 200 with the span rejected (partial success), as POST /events/ answers 202 with the
record rejected: the prompt's existence never leaks."""

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from rest_framework.test import APIClient

from prompts.metrics.models import CallEvent, EventKey
from teams.tokens import personal_token_create
from tests.integrations.otlp import PATH, PROTOBUF, Seeded, basic, export, generation, span

pytestmark = pytest.mark.django_db


def _personal(user, **options) -> str:
    token, secret = personal_token_create(actor=user, name="otel", **options)
    return basic(token.prefix, secret)


CALLERS = {
    "anonymous": lambda seeded: "",
    "service, own namespace": lambda seeded: seeded.auth,
    "service, other namespace": lambda seeded: seeded.other_auth,
    "viewer (may read)": lambda seeded: _personal(seeded.viewer),
    "outsider (private namespace)": lambda seeded: _personal(seeded.outsider),
    "staff": lambda seeded: _personal(seeded.admin),
    "viewer's token scoped to read": lambda seeded: _personal(
        seeded.viewer, scopes=["read"], namespaces=[seeded.namespace]
    ),
    "viewer's token scoped to events:write": lambda seeded: _personal(
        seeded.viewer, scopes=["events:write"], namespaces=[seeded.namespace]
    ),
}
# caller → (status, stored)
EXPECTED = {
    "anonymous": (401, False),
    "service, own namespace": (200, True),
    "service, other namespace": (200, False),
    "viewer (may read)": (200, True),
    "outsider (private namespace)": (200, False),
    "staff": (200, True),
    "viewer's token scoped to read": (403, False),
    "viewer's token scoped to events:write": (200, True),
}


@pytest.mark.parametrize("caller", list(CALLERS))
def test_who_may_send_spans(caller):
    seeded = Seeded()
    body = export(span(generation(**{"langfuse.environment": "staging"}))).SerializeToString()
    authorization = CALLERS[caller](seeded)
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = APIClient().generic("POST", PATH, body, content_type=PROTOBUF, **headers)

    status, stored = EXPECTED[caller]
    assert response.status_code == status, response.content
    assert CallEvent.objects.exists() == stored
    assert EventKey.objects.exists() == stored
    if status == 200:
        answer = ExportTraceServiceResponse.FromString(response.content).partial_success
        assert answer.rejected_spans == (0 if stored else 1)
        assert response["X-Portal-Events-Accepted"] == ("1" if stored else "0")
    else:
        assert response["Content-Type"] == "application/problem+json"
        assert "message" in response.json()  # Langfuse's error body, beside the problem's
