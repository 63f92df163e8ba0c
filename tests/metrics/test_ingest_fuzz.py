"""No batch makes POST /events/ answer 500: arbitrary JSON in every field of a record, and
arbitrary bodies (hypothesis)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prompts.metrics.models import CallEvent
from tests.api.test_api_robustness import json_values
from tests.metrics.conftest import EVENTS_URL, event

pytestmark = pytest.mark.django_db

FIELDS = [*event(), "experiment", "arm", "quality_score", "feedback", "error", "subject"]
FIELDS += ["metadata", "extra"]
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def send(client, body):
    """As JSON text (surrogates escaped, as a client would send them)."""
    return client.post(EVENTS_URL, json.dumps(body), content_type="application/json")


def records(world_experiment: int):
    def mutate(changes: dict, drop: list[str]) -> dict:
        record = {**event(experiment=world_experiment, arm="A"), **changes}
        for name in drop:
            record.pop(name, None)
        return record

    return st.lists(
        st.builds(
            mutate,
            st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=3),
            st.lists(st.sampled_from(FIELDS), max_size=2),
        ),
        max_size=5,
    )


@FUZZ
@given(data=st.data())
def test_records_with_any_values_never_fail_the_batch(world, data):
    batch = data.draw(records(world.experiment.pk))
    before = CallEvent.objects.count()

    response = send(world.service, {"events": batch})

    assert response.status_code in (202, 400, 422), response.content
    if response.status_code == 202:
        body = response.json()
        assert body["accepted"] + body["duplicates"] + len(body["rejected"]) == len(batch)
        assert CallEvent.objects.count() == before + body["accepted"]


@FUZZ
@given(body=json_values)
def test_any_body_is_a_batch_or_a_problem(world, body):
    response = send(world.service, body)

    assert response.status_code in (202, 400, 422), response.content


PARAMS = ["environment", "from", "to", "model", "group", "exact"]
param_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30) | st.sampled_from(
    ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-12-01T00:00:00Z", "day,version", "1"]
)


@FUZZ
@given(params=st.dictionaries(st.sampled_from(PARAMS), param_text, max_size=4))
def test_any_metrics_query_is_an_answer_or_a_problem(world, params):
    response = world.service.get("/api/v1/prompts/support/refund-reply/metrics/", params)

    assert response.status_code in (200, 422), response.content
