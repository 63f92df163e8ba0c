"""Approval counting is one function: the count the API and the portal show is the count the
workflow enforces, and anything that can complete it re-evaluates the request."""

import pytest
from django.urls import reverse

from approvals.services import promotion_right_grant, promotion_right_revoke, rollback
from portal.errors import Conflict
from prompts.lifecycle import prompt_retire
from teams.models import Membership
from teams.services import membership_remove, membership_set, user_update
from tests.api.conftest import personal_client
from tests.api.test_promotions import Gov
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gov(db):
    return Gov()


@pytest.fixture
def production_request(gov):
    """v2 ran in staging; a production request for it, approved by r1."""
    gov.promote_through(2, "staging")
    created = gov.request("mia", 2, "production").json()
    approved = gov.decide("r1", created["id"], "approve").json()
    assert (approved["state"], approved["approvals"]) == ("pending", 1)
    return created["id"]


def _right(gov, who: str, *, granted: bool) -> None:
    change = promotion_right_grant if granted else promotion_right_revoke
    change(
        actor=gov.staff,
        namespace=gov.namespace,
        environment=gov.env["production"],
        user=gov.users[who],
    )


def _shown(gov, request_id: int) -> dict:
    return gov.clients["boss"].get(f"/api/v1/promotions/{request_id}/").json()


def test_a_withdrawn_approval_is_not_shown_as_counting(gov, production_request, client):
    _right(gov, "r1", granted=False)

    body = _shown(gov, production_request)
    client.force_login(gov.users["boss"])
    page = client.get(reverse("approvals:request", args=[production_request])).content.decode()

    assert body["approvals"] == 0
    assert body["reviews"][0]["reviewer"] == "r1"
    assert body["reviews"][0]["counts"] is False
    assert "0 of 2 approvals" in page
    assert "does not count" in page
    listed = gov.clients["boss"].get("/api/v1/promotions/", {"state": "pending"}).json()
    assert [(r["id"], r["approvals"]) for r in listed["results"]] == [(production_request, 0)]


def test_approving_again_after_a_restored_right_recounts_and_applies(gov, production_request):
    _right(gov, "r1", granted=False)
    second = gov.decide("r2", production_request, "approve").json()
    assert (second["state"], second["approvals"]) == ("pending", 1)
    _right(gov, "r1", granted=True)  # its re-evaluation would run after commit

    again = gov.decide("r1", production_request, "approve")

    assert again.status_code == 200
    assert again.json()["state"] == "applied"
    assert again.json()["approvals"] == 2
    assert gov.running("production") == 2


def test_restoring_a_right_re_evaluates_the_request(
    gov, production_request, django_capture_on_commit_callbacks
):
    _right(gov, "r1", granted=False)
    gov.decide("r2", production_request, "approve")
    assert gov.running("production") is None

    with django_capture_on_commit_callbacks(execute=True):
        _right(gov, "r1", granted=True)

    assert _shown(gov, production_request)["state"] == "applied"
    assert gov.running("production") == 2


def test_a_deactivated_reviewer_stops_counting_and_reactivation_re_evaluates(
    gov, production_request, django_capture_on_commit_callbacks
):
    user_update(actor=gov.staff, user=gov.users["r1"], is_active=False)
    gov.decide("r2", production_request, "approve")
    assert _shown(gov, production_request)["approvals"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        user_update(actor=gov.staff, user=gov.users["r1"], is_active=True)

    assert _shown(gov, production_request)["state"] == "applied"


def test_rejoining_the_team_that_holds_the_right_re_evaluates(
    gov, production_request, django_capture_on_commit_callbacks
):
    """r3 holds the right through the reviewers team only; leaving it withdraws the approval."""
    team = TeamFactory(slug="reviewers")
    r3 = UserFactory(username="r3")
    membership_set(actor=gov.staff, team=team, user=r3, role=Membership.Role.VIEWER)
    promotion_right_grant(
        actor=gov.staff, namespace=gov.namespace, environment=gov.env["production"], team=team
    )
    _right(gov, "r1", granted=False)
    approved = personal_client(r3).post(
        f"/api/v1/promotions/{production_request}/approve/", {}, format="json"
    )
    assert approved.json()["approvals"] == 1
    membership_remove(actor=gov.staff, team=team, user=r3)
    gov.decide("r2", production_request, "approve")
    assert _shown(gov, production_request)["approvals"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        membership_set(actor=gov.staff, team=team, user=r3, role=Membership.Role.VIEWER)

    assert _shown(gov, production_request)["state"] == "applied"


def test_rollback_refuses_a_retired_prompt(gov):
    gov.promote_through(1, "staging")
    gov.promote_through(2, "staging")
    prompt_retire(actor=gov.staff, prompt=gov.prompt, reason="Retired early for the test.")

    with pytest.raises(Conflict) as refused:
        rollback(
            actor=gov.users["r1"],
            prompt=gov.prompt,
            environment=gov.env["staging"],
            justification="incident",
        )
    response = gov.clients["r1"].post(
        "/api/v1/prompts/alpha/greet/rollback/",
        {"environment": "staging", "justification": "incident"},
        format="json",
    )

    assert refused.value.code == "retired"
    assert response.status_code == 409
    assert response.json()["code"] == "retired"
    assert gov.running("staging") == 2
