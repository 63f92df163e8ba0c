"""The promotion workflow's hook: requests, decisions and rollbacks reach the right people's
inboxes and e-mail through `notify`, with a link to the request page."""

import pytest

from approvals.tasks import notify_promotion_event
from teams.notifications.models import Notification
from tests.api.test_promotions import Gov

pytestmark = pytest.mark.django_db


@pytest.fixture
def gov(db):
    return Gov()


def told(event):
    return sorted(Notification.objects.filter(event=event).values_list("user__username", flat=True))


def test_a_request_tells_its_reviewers_and_the_team(gov, committed, mailoutbox):
    with committed():
        created = gov.request("mia", 2, "staging").json()

    # reviewers r1, r2, boss (not mia, the requester, nor writer, the author); the team's
    # maintainers mia and writer
    assert told("promotion.requested") == ["boss", "mia", "r1", "r2", "writer"]
    entry = Notification.objects.filter(event="promotion.requested").first()
    assert entry.url == f"/promotions/{created['id']}/"
    assert entry.subject == "Promotion of alpha/greet v2 to staging waits for review"
    assert entry.data["environment"] == "staging"
    assert any(f"/promotions/{created['id']}/" in mail.body for mail in mailoutbox)


def test_a_decision_tells_the_requester_and_the_team(gov, committed):
    created = gov.request("mia", 2, "staging").json()

    with committed():
        gov.decide("r1", created["id"], "reject", "not yet")

    assert told("promotion.rejected") == ["mia", "writer"]


def test_applied_and_told_once_when_the_task_runs_twice(gov, committed):
    with committed():
        created = gov.request("mia", 2, "development").json()
    notify_promotion_event(created["id"], "applied")

    assert told("promotion.applied") == ["mia", "writer"]


def test_a_rollback_tells_the_team(gov, committed):
    gov.promote_through(1, "staging")
    gov.promote_through(2, "staging")

    with committed():
        response = gov.clients["r1"].post(
            "/api/v1/prompts/alpha/greet/rollback/",
            {"environment": "staging", "justification": "v2 is broken"},
            format="json",
        )

    assert response.status_code == 200, response.content
    entry = Notification.objects.filter(event="deployment.rolled_back").first()
    assert told("deployment.rolled_back") == ["mia", "writer"]
    assert entry.subject == "alpha/greet in staging rolled back to v1"
    assert "from v2: v2 is broken" in entry.body
    assert entry.url == "/prompts/alpha/greet/deployments/"
