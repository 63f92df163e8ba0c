"""POST /api/v1/events/: per-record validation, permissions, idempotency, query count."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from prompts.metrics.models import CallEvent, DirtyHour, EventKey
from prompts.services import version_create
from tests.api.conftest import problem
from tests.factories import PromptFactory
from tests.metrics.conftest import EVENTS_URL, event, post

pytestmark = pytest.mark.django_db


def test_a_good_batch_is_stored_with_every_field(world):
    records = [
        event(
            version=2,
            experiment=world.experiment.pk,
            arm="B",
            quality_score=0.75,
            feedback=1,
            error=True,
            subject="user-1",
            metadata={"trace": "abc"},
        ),
        event(version=3, latency_ms=0, feedback=None),
    ]

    response = post(world.service, records)

    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    first, second = CallEvent.objects.order_by("version__number")
    assert (first.version, first.arm, first.experiment_id) == (
        world.versions[1],
        "B",
        world.experiment.pk,
    )
    assert (first.quality_score, first.feedback, first.error, first.subject) == (
        0.75,
        1,
        True,
        "user-1",
    )
    assert first.metadata == {"trace": "abc"}
    assert (second.latency_ms, second.feedback, second.arm, second.metadata) == (0, 0, "", None)
    assert DirtyHour.objects.filter(prompt=world.prompt).exists()


def test_the_same_batch_twice_counts_once(world):
    records = [event(), event(), event()]

    assert post(world.service, records).json()["accepted"] == 3
    again = post(world.service, records).json()

    assert again == {"accepted": 0, "duplicates": 3, "rejected": []}
    assert CallEvent.objects.count() == 3
    assert EventKey.objects.count() == 3


def test_a_key_repeated_inside_one_batch_counts_once(world):
    records = [event(idempotency_key="same"), event(idempotency_key="same"), event()]

    assert post(world.service, records).json() == {"accepted": 2, "duplicates": 1, "rejected": []}


def test_keys_are_per_prompt(world):
    other = PromptFactory(namespace=world.support, name="other")
    version_create(prompt=other, author=world.admin, template="x")
    records = [event(idempotency_key="k"), event(prompt="support/other", idempotency_key="k")]

    assert post(world.service, records).json()["accepted"] == 2


def test_bad_records_are_reported_by_index_and_good_ones_kept(world):
    now = timezone.now()
    records = [
        event(),
        event(latency_ms=-1),
        "not an object",
        event(version=99),
        event(environment="nowhere"),
        event(occurred_at=(now + dt.timedelta(hours=1)).isoformat()),
        event(occurred_at=(now - dt.timedelta(days=401)).isoformat()),
        event(occurred_at="2026-12-01T10:00:00"),
        event(arm="B"),
        event(experiment=world.experiment.pk, arm="C"),
        event(experiment=world.experiment.pk, arm="B", version=1),
        event(experiment=999_999),
        event(quality_score=1.5, feedback=2, idempotency_key=""),
        event(unknown_field=1),
        event(metadata={"x": "y" * 3000}),
        event(prompt="support/nothing"),
        {**event(), "latency_ms": None},
        event(experiment=world.experiment.pk, version=3),
        event(experiment=world.experiment.pk, version=2),
    ]

    body = post(world.service, records).json()

    rejected = {item["index"]: item["errors"] for item in body["rejected"]}
    assert body["accepted"] == 2
    assert sorted(rejected) == list(range(1, 18))
    assert set(rejected[1]) == {"latency_ms"}
    assert set(rejected[2]) == {"non_field_errors"}
    assert rejected[3] == {"version": ["no version 99 of support/refund-reply"]}
    assert rejected[4] == {"environment": ["no environment nowhere"]}
    assert rejected[5] == {"occurred_at": ["more than 300 seconds in the future"]}
    assert rejected[6] == {"occurred_at": ["older than the retention window of 400 days"]}
    assert set(rejected[7]) == {"occurred_at"}
    assert set(rejected[8]) == {"non_field_errors"}
    assert set(rejected[9]) == {"arm"}
    assert set(rejected[10]) == {"arm"}
    assert set(rejected[11]) == {"experiment"}
    assert set(rejected[12]) == {"quality_score", "feedback", "idempotency_key"}
    assert set(rejected[13]) == {"unknown_field"}
    assert set(rejected[14]) == {"metadata"}
    assert rejected[15] == {"prompt": ["no prompt support/nothing"]}
    assert set(rejected[16]) == {"latency_ms"}
    assert set(rejected[17]) == {"version"}
    assert CallEvent.objects.count() == 2
    assert set(CallEvent.objects.values_list("arm", flat=True)) == {""} | {"B"}


@pytest.mark.parametrize(
    "body",
    [[], "events", {"events": "x"}, {"events": None}, {}, {"events": [], "extra": 1}, 7],
)
def test_a_body_that_is_not_a_batch_is_a_problem(world, body):
    response = world.service.post(EVENTS_URL, body, format="json")

    assert response.status_code in (400, 422)
    problem(response)


def test_more_than_a_thousand_records_is_a_problem(world):
    response = post(world.service, [event() for _ in range(1001)])

    assert response.status_code == 422
    assert "events" in problem(response)["errors"]
    assert CallEvent.objects.count() == 0


def test_a_service_token_reports_only_for_its_namespaces(world):
    records = [event(), event(prompt="secret/hidden")]

    body = post(world.service, records).json()
    other = post(world.secret_service, [event()]).json()

    assert body["accepted"] == 1
    assert body["rejected"] == [{"index": 1, "errors": {"prompt": ["no prompt secret/hidden"]}}]
    assert other["rejected"] == [
        {"index": 0, "errors": {"prompt": ["no prompt support/refund-reply"]}}
    ]
    assert CallEvent.objects.count() == 1


def test_a_person_reports_for_prompts_they_may_read(world):
    outsider = post(world.person, [event(prompt="secret/hidden"), event()]).json()
    member = post(world.secret_person, [event(prompt="secret/hidden")]).json()

    assert outsider["accepted"] == 1
    assert outsider["rejected"] == [{"index": 0, "errors": {"prompt": ["no prompt secret/hidden"]}}]
    assert member == {"accepted": 1, "duplicates": 0, "rejected": []}


def test_anonymous_callers_are_refused(world):
    assert post(APIClient(), [event()]).status_code == 401
    assert CallEvent.objects.count() == 0


def test_a_batch_costs_a_constant_number_of_queries(world, django_assert_max_num_queries):
    small = [event(experiment=world.experiment.pk, version=2)]
    large = [
        event(version=1 + i % 3, environment=("production", "staging")[i % 2]) for i in range(500)
    ]
    large += [event(experiment=world.experiment.pk, version=2) for _ in range(500)]
    post(world.service, [event()])  # the token lookup is cached from here on

    with django_assert_max_num_queries(20) as few:
        post(world.service, small)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert post(world.service, large).json()["accepted"] == 1000
