"""The gate's panel on the promotion request page, its "Run what is missing" button, the
portal's promotion form and the gate API, in the world of test_gate."""

import pytest

from approvals.models import PromotionRequest
from prompts.evaluations.models import Run
from prompts.models import Environment
from tests.evaluations.test_gate import Gated
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gated(db, django_capture_on_commit_callbacks):
    return Gated(django_capture_on_commit_callbacks)


# --- The request page's panel ------------------------------------------------------------


def _page(client, user, pk):
    client.force_login(user)
    return client.get(f"/promotions/{pk}/")


def test_the_request_page_shows_each_suites_state_and_the_button(gated, client):
    passed = gated.run("smoke")
    created = gated.request("production").json()

    page = _page(client, gated.users["mia"], created["id"])

    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-gate-suite="smoke" data-gate-state="passing"' in html
    assert f"/evaluations/runs/{passed.pk}/" in html
    assert 'data-gate-suite="tone" data-gate-state="missing"' in html
    assert "Run what is missing" in html


def test_the_button_starts_the_missing_runs_with_trigger_gate(gated, client):
    gated.run("smoke")
    created = gated.request("production").json()
    gated.approve("r1", created["id"])
    gated.approve("r2", created["id"])
    client.force_login(gated.users["mia"])

    with gated.commits(execute=True):
        answer = client.post(
            "/prompts/alpha/greet/versions/1/gate/production/run/",
            {"next": f"/promotions/{created['id']}/"},
        )

    assert answer.status_code == 302
    assert answer["Location"] == f"/promotions/{created['id']}/"
    started = Run.objects.get(trigger="gate")
    assert (started.suite.name, started.state, started.requested_by) == (
        "tone",
        "passed",
        gated.users["mia"],
    )
    assert PromotionRequest.objects.get(pk=created["id"]).state == "applied"
    page = _page(client, gated.users["mia"], created["id"]).content.decode()
    assert "Run what is missing" not in page


def test_the_button_is_refused_to_a_viewer_and_hidden(gated, client):
    created = gated.request("production").json()
    page = _page(client, gated.users["r1"], created["id"]).content.decode()
    assert "Run what is missing" not in page
    assert 'data-gate-state="missing"' in page

    refused = client.post("/prompts/alpha/greet/versions/1/gate/production/run/", {})

    assert refused.status_code == 403
    assert not Run.objects.exists()


def test_no_panel_where_the_environment_has_no_gate(gated, client):
    Environment.objects.filter(slug="production").update(requires_evaluation=False)
    created = gated.request("production").json()

    page = _page(client, gated.users["mia"], created["id"]).content.decode()

    assert "data-gate-state" not in page


def test_an_outsider_of_a_private_namespace_gets_404_from_the_button(gated, client):
    gated.namespace.visibility = "private"
    gated.namespace.save()
    client.force_login(UserFactory(username="olga"))

    refused = client.post("/prompts/alpha/greet/versions/1/gate/production/run/", {})

    assert refused.status_code == 404
    assert not Run.objects.exists()


# --- The API ------------------------------------------------------------------------------


def test_the_api_shows_the_gate_and_runs_what_is_missing(gated):
    passed = gated.run("smoke")
    url = "/api/v1/prompts/alpha/greet/versions/1/gate/"

    shown = gated.clients["r1"].get(f"{url}?environment=production").json()

    assert (shown["required"], shown["passed"], shown["model"]) == (True, False, "local")
    assert [(s["name"], s["state"], s["run"]) for s in shown["suites"]] == [
        ("smoke", "passing", passed.pk),
        ("tone", "missing", None),
    ]
    with gated.commits(execute=True):
        started = gated.clients["mia"].post(url, {"environment": "production"}, format="json")

    assert started.status_code == 202
    assert [r["suite"] for r in started.json()["runs"]] == ["tone"]
    assert Run.objects.get(trigger="gate").state == "passed"
    after = gated.clients["r1"].get(f"{url}?environment=production").json()
    assert after["passed"] is True


def test_the_api_gate_of_an_environment_without_it_is_not_required(gated):
    shown = gated.clients["r1"].get(
        "/api/v1/prompts/alpha/greet/versions/1/gate/?environment=staging"
    )

    assert (shown.json()["required"], shown.json()["passed"]) == (False, True)


def test_a_decided_request_shows_no_panel(gated, client):
    gated.run("smoke")
    gated.run("tone")
    created = gated.request("development").json()

    page = _page(client, gated.users["mia"], created["id"]).content.decode()

    assert created["state"] == "applied"
    assert "data-gate-state" not in page


def test_the_promotion_form_shows_the_refusal(gated, client):
    client.force_login(gated.users["mia"])

    refused = client.post(
        "/prompts/alpha/greet/promote/",
        {"version": "1", "environment": "development", "justification": "try"},
    )

    assert refused.status_code == 409
    assert "requires a passing evaluation of alpha/greet v1 on local" in refused.content.decode()
    assert gated.running("development") is None
