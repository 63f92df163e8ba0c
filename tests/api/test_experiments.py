"""Experiments through the API: proposing one (at once, or as a promotion request of kind
`experiment` with four-eyes review), the arm rules, sticky assignment in resolve, stopping
with a winner through the promotion path, and a rollback stopping what runs."""

import pytest

from approvals.models import PromotionRequest
from portal.audit.models import AuditEntry
from prompts.models import Experiment
from teams.notifications.models import Notification
from tests.api.conftest import problem, service_client
from tests.api.test_promotions import Gov

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _deliver_after_each_request(monkeypatch, django_capture_on_commit_callbacks):
    """Tests run in one transaction that never commits: deliver each API call's on-commit work
    (cache invalidations, notifications) when the call returns, as a real commit would."""
    from rest_framework.test import APIClient

    request = APIClient.request

    def committed(self, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return request(self, **kwargs)

    monkeypatch.setattr(APIClient, "request", committed)


@pytest.fixture
def gov(db):
    gov = Gov()
    gov.v3 = gov.version("Hey {{name}}")
    gov.promote_through(1, "development", "staging", "production")
    gov.promote_through(2, "development", "staging")
    return gov


def propose(gov, who="mia", environment="production", arms=None, **extra):
    body = {
        "prompt": "alpha/greet",
        "environment": environment,
        "arms": arms or [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}],
        "hypothesis": "The shorter greeting is liked more.",
        "primary_metric": "feedback",
        "justification": "Ran in staging for a week.",
        **extra,
    }
    return gov.clients[who].post("/api/v1/experiments/", body, format="json")


def resolve(gov, subject=None, environment="production"):
    service = service_client(actor=gov.staff, namespaces=[gov.namespace])
    query = f"?environment={environment}" + (f"&subject={subject}" if subject else "")
    return service.get(f"/api/v1/resolve/alpha/greet/{query}")


def test_a_production_experiment_waits_for_two_approvals_then_splits_traffic(gov):
    response = propose(gov)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "pending"
    assert [(a["arm"], a["version"], a["weight"], a["control"]) for a in body["arms"]] == [
        ("A", 1, 50, True),
        ("B", 2, 50, False),
    ]
    request = PromotionRequest.objects.get(pk=body["request"]["id"])
    assert (request.kind, request.experiment_id, request.required_approvals) == (
        "experiment",
        body["id"],
        2,
    )
    assert resolve(gov, "u1").json()["experiment"] is None  # nothing changes before approval
    told = Notification.objects.filter(user=gov.users["r1"], event="promotion.requested").latest(
        "pk"
    )
    assert told.subject == (
        "Experiment on alpha/greet in production (A v1 50 % / B v2 50 %) waits for review"
    )

    # four-eyes: the author of arm B's version may not approve the experiment
    refused = gov.decide("writer", request.pk, "approve")
    assert refused.status_code == 403
    assert problem(refused)["code"] == "four_eyes"
    gov.decide("r1", request.pk, "approve")
    applied = gov.decide("r2", request.pk, "approve").json()
    assert applied["state"] == "applied"
    assert gov.running("production") == 1  # the deployment stays the control's

    experiment = Experiment.objects.get(pk=body["id"])
    assert experiment.state == "running"
    seen = {}
    for subject in (f"user-{i}" for i in range(200)):
        answer = resolve(gov, subject)
        about = answer.json()["experiment"]
        assert about["id"] == experiment.pk
        assert about["version"] == answer.json()["version"] == {"A": 1, "B": 2}[about["arm"]]
        seen.setdefault(about["arm"], set()).add(answer["ETag"])
        assert resolve(gov, subject).json()["experiment"] == about  # sticky
    assert set(seen) == {"A", "B"}
    assert all(len(etags) == 1 for etags in seen.values())  # one answer per arm
    assert seen["A"] != seen["B"]
    actions = list(
        AuditEntry.objects.filter(object_type="experiment").values_list("action", flat=True)
    )
    assert actions == ["experiment.created", "experiment.started"]


def test_development_experiments_start_at_once(gov):
    gov.promote_through(3, "development")
    response = propose(
        gov,
        environment="development",
        arms=[{"version": 3, "weight": 70}, {"version": 2, "weight": 30}],
    )
    assert response.status_code == 201, response.content
    assert response.json()["state"] == "running"
    # arm A is always the control, whatever order the arms were given in
    assert [(a["arm"], a["version"]) for a in response.json()["arms"]] == [("A", 3), ("B", 2)]
    events = Notification.objects.filter(user=gov.users["mia"]).values_list("event", flat=True)
    assert "experiment.started" in set(events)


@pytest.mark.parametrize(
    ("arms", "message"),
    [
        ([{"version": 1, "weight": 99}], "2 to 5 arms"),
        ([{"version": 1, "weight": 60}, {"version": 2, "weight": 30}], "sum to 90"),
        ([{"version": 2, "weight": 50}, {"version": 3, "weight": 50}], "must be the control"),
        ([{"version": 1, "weight": 50}, {"version": 1, "weight": 50}], "different version"),
        ([{"version": 1, "weight": 50}, {"version": 9, "weight": 50}], "no version 9"),
    ],
)
def test_bad_arms_are_refused_with_a_reason(gov, arms, message):
    response = propose(gov, arms=arms)
    assert response.status_code == 422, response.content
    assert message in str(problem(response))
    assert not Experiment.objects.exists()


def test_a_version_that_never_ran_just_below_is_refused(gov):
    response = propose(gov, arms=[{"version": 1, "weight": 50}, {"version": 3, "weight": 50}])
    assert response.status_code == 409
    assert problem(response)["code"] == "untested_version"
    assert "never ran in staging" in problem(response)["detail"]


def test_one_running_experiment_per_environment(gov):
    first = propose(gov, environment="staging", arms=None)
    assert first.status_code == 201  # staging needs one approval
    request_id = first.json()["request"]["id"]
    gov.decide("r1", request_id, "approve")
    assert Experiment.objects.get(pk=first.json()["id"]).state == "running"
    second = propose(gov, environment="staging")
    assert second.status_code == 409
    assert problem(second)["code"] == "experiment_running"


def test_a_newer_request_supersedes_a_pending_experiment_and_cancels_it(gov):
    pending = propose(gov).json()
    gov.request("mia", 2, "production")
    experiment = Experiment.objects.get(pk=pending["id"])
    assert experiment.state == "cancelled"
    assert PromotionRequest.objects.get(pk=pending["request"]["id"]).state == "superseded"


def test_stop_with_a_winner_requests_its_promotion(gov):
    experiment = propose(gov).json()
    gov.decide("r1", experiment["request"]["id"], "approve")
    gov.decide("r2", experiment["request"]["id"], "approve")

    stopped = gov.clients["mia"].post(
        f"/api/v1/experiments/{experiment['id']}/stop/",
        {"reason": "B wins on feedback", "winner": "B"},
        format="json",
    )

    assert stopped.status_code == 200, stopped.content
    body = stopped.json()
    assert (body["experiment"]["state"], body["experiment"]["winner"]) == ("stopped", "B")
    assert body["promotion"]["state"] == "pending"  # production needs its approvals
    assert body["promotion"]["version"] == 2
    assert resolve(gov, "u1").json()["experiment"] is None  # the control again, at once
    assert resolve(gov, "u1").json()["version"] == 1


def test_stopping_twice_and_strangers_are_refused(gov):
    experiment = propose(gov, environment="staging").json()
    gov.decide("r1", experiment["request"]["id"], "approve")
    url = f"/api/v1/experiments/{experiment['id']}/stop/"
    refused = gov.clients["outsider"].post(url, {"reason": "no"}, format="json")
    assert refused.status_code == 403  # an internal namespace: readable, not theirs
    assert Experiment.objects.get(pk=experiment["id"]).state == "running"
    assert gov.clients["r1"].post(url, {"reason": "enough"}, format="json").status_code == 200
    again = gov.clients["mia"].post(url, {"reason": "again"}, format="json")
    assert again.status_code == 409
    assert problem(again)["code"] == "experiment_not_running"


def test_a_rollback_stops_the_running_experiment(gov):
    gov.promote_through(2, "production")
    experiment = propose(gov, arms=[{"version": 2, "weight": 50}, {"version": 1, "weight": 50}])
    assert experiment.status_code == 201, experiment.content
    request_id = experiment.json()["request"]["id"]
    gov.decide("r1", request_id, "approve")
    gov.decide("r2", request_id, "approve")
    assert resolve(gov, "u1").json()["experiment"] is not None

    rolled = gov.clients["r1"].post(
        "/api/v1/prompts/alpha/greet/rollback/",
        {"environment": "production", "justification": "bad numbers"},
        format="json",
    )

    assert rolled.status_code == 200, rolled.content
    stopped = Experiment.objects.get(pk=experiment.json()["id"])
    assert (stopped.state, stopped.stop_cause) == ("stopped", "deployment")
    answer = resolve(gov, "u1").json()
    assert (answer["experiment"], answer["version"]) == (None, 1)


def test_a_rollback_cancels_a_pending_experiment_request_whose_control_is_gone(gov):
    gov.promote_through(2, "production")
    pending = propose(gov, arms=[{"version": 2, "weight": 50}, {"version": 1, "weight": 50}])
    request_id = pending.json()["request"]["id"]

    rolled = gov.clients["r1"].post(
        "/api/v1/prompts/alpha/greet/rollback/",
        {"environment": "production", "justification": "v2 misbehaves"},
        format="json",
    )

    assert rolled.status_code == 200, rolled.content
    assert PromotionRequest.objects.get(pk=request_id).state == "cancelled"
    assert Experiment.objects.get(pk=pending.json()["id"]).state == "cancelled"
    late = gov.decide("r2", request_id, "approve")
    assert late.status_code == 409
    assert problem(late)["code"] == "request_cancelled"
    assert resolve(gov, "u1").json()["experiment"] is None


def test_a_huge_minimum_detectable_effect_is_refused(gov):
    response = propose(gov, minimum_detectable_effect=1e300)
    assert response.status_code == 422
    assert "minimum_detectable_effect" in problem(response)["errors"]
