"""The experiment pages: the form proposes (weights checked before any service runs), the
experiment page shows per-arm results with the verdict, and its stop form ends the experiment
or hands the winner to the promotion path. Who may see and do what."""

import datetime as dt

import pytest
from django.utils import timezone

from approvals.models import PromotionRequest
from approvals.services import promotion_right_grant
from approvals.services.experiments import experiment_propose
from prompts import experiments
from prompts.metrics.services import events_ingest
from prompts.models import Environment, Experiment
from prompts.services import deployment_set, version_create
from tests.api.conftest import personal_client
from tests.factories import (
    MembershipFactory,
    NamespaceFactory,
    PromptFactory,
    UserFactory,
    system_actor,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    namespace = NamespaceFactory(slug="shop", visibility="private")
    people = {name: UserFactory(username=name) for name in ("mae", "vic", "out")}
    MembershipFactory(team=namespace.team, user=people["mae"], role="maintainer")
    MembershipFactory(team=namespace.team, user=people["vic"], role="viewer")
    admin = system_actor()
    prompt = PromptFactory(namespace=namespace, name="greet")
    for text in ("Hello", "Hi"):
        version_create(prompt=prompt, author=admin, template=text, variables=[])
    development = Environment.objects.get(slug="development")
    for number in (2, 1):
        deployment_set(
            prompt=prompt,
            environment=development,
            version=prompt.versions.get(number=number),
            actor=admin,
            action="t",
        )
    return {"prompt": prompt, "people": people, "development": development, "admin": admin}


def _start(shop) -> Experiment:
    return experiment_propose(
        actor=shop["people"]["mae"],
        prompt=shop["prompt"],
        environment=shop["development"],
        arms=[{"version": 1, "weight": 50}, {"version": 2, "weight": 50}],
        hypothesis="Hi is liked more",
        primary_metric="feedback",
        justification="try it",
    )


def _calls(shop, experiment, n=400):
    now = timezone.now()
    records = [
        {
            "prompt": "shop/greet",
            "version": 1 if i % 2 == 0 else 2,
            "environment": "development",
            "experiment": experiment.pk,
            "arm": "A" if i % 2 == 0 else "B",
            "latency_ms": 100.0 + i % 7,
            "feedback": 1 if (i % 2 == 1 or i % 6 == 0) else -1,
            "idempotency_key": f"k{i}",
            "occurred_at": (now - dt.timedelta(seconds=i % 50)).isoformat(),
        }
        for i in range(n)
    ]
    events_ingest(principal=shop["admin"], records=records)


def test_the_experiment_page_shows_results_and_the_verdict(
    client, shop, django_assert_max_num_queries
):
    experiment = _start(shop)
    _calls(shop, experiment)
    client.force_login(shop["people"]["vic"])

    with django_assert_max_num_queries(40):
        response = client.get(f"/experiments/{experiment.pk}/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "Verdict: B better" in body
    assert '<tr data-arm="A">' in body
    assert "200</td>" in body  # calls per arm
    assert "Stop the experiment" not in body  # a viewer may not stop it


def test_a_private_experiment_is_404_for_an_outsider(client, shop):
    experiment = _start(shop)
    client.force_login(shop["people"]["out"])
    assert client.get(f"/experiments/{experiment.pk}/").status_code == 404
    assert client.get("/prompts/shop/greet/experiments/new/").status_code == 404


def test_a_viewer_may_not_propose(client, shop):
    client.force_login(shop["people"]["vic"])
    assert client.get("/prompts/shop/greet/experiments/new/").status_code == 403


def _form(**overrides):
    data = {
        "environment": "development",
        "arm_A_version": "1",
        "arm_A_weight": "50",
        "arm_B_version": "2",
        "arm_B_weight": "50",
        "hypothesis": "Hi is liked more",
        "primary_metric": "feedback",
        "justification": "try it",
    }
    return {**data, **overrides}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"arm_B_weight": "40"}, "The weights sum to 90 %"),
        ({"arm_B_version": "1"}, "Each arm runs a different version."),
        ({"arm_B_version": "", "arm_B_weight": ""}, "at least two arms"),
        ({"arm_C_weight": "10"}, "Arm C: give both a version and a weight."),
    ],
)
def test_the_form_checks_the_arms_before_anything_is_written(client, shop, overrides, message):
    client.force_login(shop["people"]["mae"])
    response = client.post("/prompts/shop/greet/experiments/new/", _form(**overrides))
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Experiment.objects.exists()


def test_the_form_starts_a_development_experiment(client, shop):
    client.force_login(shop["people"]["mae"])
    response = client.post("/prompts/shop/greet/experiments/new/", _form(guard_error_rate="0.05"))
    experiment = Experiment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/experiments/{experiment.pk}/"
    assert experiment.state == "running"
    assert experiment.guardrails == [{"metric": "error_rate", "max_increase": 0.05}]


def test_a_service_refusal_is_a_form_error(client, shop):
    _start(shop)
    client.force_login(shop["people"]["mae"])
    response = client.post("/prompts/shop/greet/experiments/new/", _form())
    assert response.status_code == 409
    assert "already runs" in response.content.decode()


def test_stopping_with_the_winner_requests_its_promotion(client, shop):
    experiment = _start(shop)
    client.force_login(shop["people"]["mae"])

    response = client.post(f"/experiments/{experiment.pk}/", {"reason": "B wins", "winner": "B"})

    experiment.refresh_from_db()
    assert (experiment.state, experiment.winner.label) == ("stopped", "B")
    promotion = PromotionRequest.objects.get(prompt=shop["prompt"], kind="promotion")
    assert promotion.state == "applied"  # development needs no approval
    assert response.status_code == 302
    assert response["Location"] == f"/promotions/{promotion.pk}/"


def test_stopping_needs_a_reason(client, shop):
    experiment = _start(shop)
    client.force_login(shop["people"]["mae"])
    response = client.post(f"/experiments/{experiment.pk}/", {"reason": ""})
    assert response.status_code == 422
    experiment.refresh_from_db()
    assert experiment.state == "running"


def test_the_page_asks_anonymous_visitors_to_sign_in(client, shop):
    experiment = _start(shop)
    response = client.get(f"/experiments/{experiment.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_a_promotion_right_holder_stops_without_choosing_a_winner(client, shop):
    promoter = UserFactory(username="pat")
    promotion_right_grant(
        actor=shop["admin"],
        namespace=shop["prompt"].namespace,
        environment=shop["development"],
        user=promoter,
    )
    experiment = _start(shop)
    client.force_login(promoter)
    page = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert "Stop the experiment" in page
    assert "Winner (optional)" not in page  # a winner's promotion takes the right to request

    client.post(f"/experiments/{experiment.pk}/", {"reason": "bad replies", "winner": "B"})

    experiment.refresh_from_db()
    assert (experiment.state, experiment.winner) == ("stopped", None)


def test_the_api_refuses_a_winner_from_someone_who_may_not_request_it(shop):
    promoter = UserFactory(username="pat")
    promotion_right_grant(
        actor=shop["admin"],
        namespace=shop["prompt"].namespace,
        environment=shop["development"],
        user=promoter,
    )
    experiment = _start(shop)
    response = personal_client(promoter).post(
        f"/api/v1/experiments/{experiment.pk}/stop/",
        {"reason": "B wins", "winner": "B"},
        format="json",
    )
    assert response.status_code == 403
    assert "stop without a winner" in response.json()["detail"]
    experiment.refresh_from_db()
    assert experiment.state == "running"


def test_the_portal_s_own_long_reason_never_blocks_a_stop(shop, settings):
    experiment = _start(shop)
    stopped = experiments.experiment_stop(
        actor=None, experiment=experiment, cause="guardrail", reason="breach; " * 2000
    )
    assert stopped.state == "stopped"
    assert len(stopped.stop_reason.encode()) <= settings.MAX_NOTE_BYTES
