"""The lifecycle endpoints: answers, problems, and what consumers see on resolve after each."""

import datetime as dt

import pytest
from django.utils import timezone

from approvals.services import promotion_right_grant
from portal.audit.models import AuditEntry
from prompts.models import Prompt
from tests.api.conftest import personal_client, problem
from tests.factories import MembershipFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/prompts/support/greet"


def future(days=30):
    return (timezone.now() + dt.timedelta(days=days)).isoformat()


@pytest.fixture
def owner(world):
    user = UserFactory(username="owner")
    MembershipFactory(team=world.namespace.team, user=user, role="owner")
    for environment in ("production",):
        promotion_right_grant(
            actor=world.admin,
            namespace=world.namespace,
            environment=world.env[environment],
            user=user,
        )
    return user


@pytest.fixture
def client(owner):
    return personal_client(owner)


@pytest.fixture
def v2(world):
    return PromptFactory(namespace=world.namespace, name="greet-v2")


def deprecate(client, **body):
    body = {"reason": "Use greet-v2.", "sunset_at": future(), **body}
    return client.post(f"{URL}/deprecate/", body, format="json")


def test_deprecate_answers_the_prompt_and_resolve_warns_at_once(
    world, client, v2, django_capture_on_commit_callbacks
):
    world.get()  # a warm cached answer

    with django_capture_on_commit_callbacks(execute=True):
        response = deprecate(client, successor="support/greet-v2")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "deprecated"
    assert body["deprecation_reason"] == "Use greet-v2."
    assert body["successor"] == "support/greet-v2"
    assert body["sunset_at"]
    assert body["deprecated_at"]
    resolved = world.get()
    assert resolved.status_code == 200
    assert resolved["Deprecation"].startswith("@")
    assert resolved["Sunset"].endswith("GMT")
    assert resolved["Link"] == '</api/v1/resolve/support/greet-v2/>; rel="successor-version"'


def test_retire_answers_410_at_once_and_reactivate_brings_it_back(
    world, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        deprecate(client)
    Prompt.objects.filter(pk=world.prompt.pk).update(
        sunset_at=timezone.now() - dt.timedelta(hours=1)
    )
    world.get()

    with django_capture_on_commit_callbacks(execute=True):
        retired = client.post(f"{URL}/retire/", {"justification": "Passed."}, format="json")

    assert retired.status_code == 200, retired.content
    assert retired.json()["state"] == "retired"
    assert world.get().status_code == 410
    with django_capture_on_commit_callbacks(execute=True):
        back = client.post(f"{URL}/reactivate/", {"justification": "Needed."}, format="json")
    assert back.status_code == 200
    assert back.json()["state"] == "active"
    answered = world.get()
    assert answered.status_code == 200
    assert "Deprecation" not in answered
    assert list(
        AuditEntry.objects.filter(object_id="support/greet")
        .order_by("seq")
        .values_list("action", "actor")
    )[-3:] == [
        ("prompt.deprecated", "owner"),
        ("prompt.retired", "owner"),
        ("prompt.reactivated", "owner"),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sunset_at": "2001-01-01T00:00:00Z"}, "sunset_at"),
        ({"reason": ""}, "reason"),
        ({"successor": "support/greet"}, "successor"),
        ({"successor": "support/nope"}, "successor"),
        ({"successor": "not a name"}, "successor"),
        ({"sunset_at": None}, "sunset_at"),
    ],
)
def test_invalid_deprecations_are_422_per_field(world, client, body, field):
    response = deprecate(client, **body)

    assert response.status_code == 422
    assert field in problem(response)["errors"]
    assert Prompt.objects.get(pk=world.prompt.pk).state == "active"


def test_early_retirement_is_staff_only(world, client):
    deprecate(client)

    refused = client.post(f"{URL}/retire/", {"justification": "Now."}, format="json")

    assert refused.status_code == 403
    assert "only staff" in problem(refused)["detail"]
    staff = personal_client(world.admin)
    no_reason = staff.post(f"{URL}/retire/", {}, format="json")
    assert no_reason.status_code == 422
    assert "justification" in problem(no_reason)["errors"]
    done = staff.post(f"{URL}/retire/", {"justification": "Incident 7."}, format="json")
    assert done.status_code == 200
    assert AuditEntry.objects.get(action="prompt.retired_early").after["override"] is True


def test_a_maintainer_without_the_production_right_is_refused(world):
    maintainer = UserFactory(username="maint")
    MembershipFactory(team=world.namespace.team, user=maintainer, role="maintainer")

    response = deprecate(personal_client(maintainer))

    assert response.status_code == 403
    assert "promotion right" in problem(response)["detail"]


def test_a_retired_prompt_refuses_versions_and_promotions_with_code_retired(world, client):
    personal_client(world.admin).post(f"{URL}/retire/", {"justification": "x"}, format="json")

    version = client.post(
        f"{URL}/versions/", {"template": "Yo {{name}}", "variables": ["name"]}, format="json"
    )
    promotion = client.post(
        "/api/v1/promotions/",
        {
            "prompt": "support/greet",
            "version": 3,
            "environment": "staging",
            "justification": "Try it.",
        },
        format="json",
    )
    deprecated = deprecate(client)
    again = client.post(f"{URL}/retire/", {"justification": "x"}, format="json")

    assert (version.status_code, problem(version)["code"]) == (409, "retired")
    assert (promotion.status_code, problem(promotion)["code"]) == (409, "retired")
    assert (deprecated.status_code, problem(deprecated)["code"]) == (409, "retired")
    assert (again.status_code, problem(again)["code"]) == (409, "unchanged")


def test_reactivating_an_active_prompt_is_a_conflict(client):
    response = client.post(f"{URL}/reactivate/", {"justification": "x"}, format="json")

    assert response.status_code == 409
    assert problem(response)["code"] == "unchanged"


def test_service_tokens_may_not(world):
    response = deprecate(world.service)

    assert response.status_code == 403
    assert Prompt.objects.get(pk=world.prompt.pk).state == "active"
