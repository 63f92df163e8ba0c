"""The permission matrix of the experiment endpoints, in the world of test_permission_matrix:
alpha/greet (private) runs v1 in staging and v2 in development, where an experiment (A v2,
B v1) runs; every caller meets the same world, and a refusal changes nothing."""

import pytest

from approvals.models import PromotionRequest
from approvals.services.experiments import experiment_propose
from prompts.models import Environment, Experiment, Prompt
from prompts.services import deployment_set
from tests.api.conftest import problem
from tests.api.test_permission_matrix import (  # noqa: F401 - the fixture
    CALLERS,
    _call_and_roll_back,
    expect,
    snapshot,
    world,
)
from tests.factories import system_actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(world):  # noqa: F811
    admin = system_actor()
    greet = Prompt.objects.get(namespace__slug="alpha", name="greet")
    v1, v2 = greet.versions.order_by("number")
    env = {e.slug: e for e in Environment.objects.all()}
    deployment_set(
        prompt=greet, environment=env["development"], version=v1, actor=admin, action="t"
    )
    deployment_set(
        prompt=greet, environment=env["development"], version=v2, actor=admin, action="t"
    )
    deployment_set(prompt=greet, environment=env["staging"], version=v1, actor=admin, action="t")
    return experiment_propose(
        actor=admin,
        prompt=greet,
        environment=env["development"],
        arms=[{"version": 2, "weight": 50}, {"version": 1, "weight": 50}],
        hypothesis="v1 reads better",
        primary_metric="quality_score",
        justification="try it",
    )


def full_snapshot() -> dict:
    return {
        **snapshot(),
        "experiments": list(Experiment.objects.order_by("pk").values_list("pk", "state")),
        "requests": list(PromotionRequest.objects.order_by("pk").values_list("pk", "state")),
    }


PROPOSAL = {
    "prompt": "alpha/greet",
    "environment": "staging",
    "arms": [{"version": 1, "weight": 90}, {"version": 2, "weight": 10}],
    "hypothesis": "v2 is clearer",
    "primary_metric": "feedback",
    "justification": "ran in development",
}
READ = expect(200, outsider=404, service=200)
OPERATIONS = [
    ("list experiments", "get", "/api/v1/experiments/", None, expect(200, service=200)),
    ("read experiment", "get", "/api/v1/experiments/{id}/", None, READ),
    (
        "propose experiment",
        "post",
        "/api/v1/experiments/",
        PROPOSAL,
        expect(403, outsider=404, maintainer=201, owner=201, staff=201),
    ),
    (
        "stop experiment",
        "post",
        "/api/v1/experiments/{id}/stop/",
        {"reason": "enough"},
        expect(403, outsider=404, maintainer=200, owner=200, staff=200),
    ),
    ("results of an experiment", "get", "/api/v1/experiments/{id}/results/", None, READ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [pytest.param(*operation[1:], id=operation[0]) for operation in OPERATIONS],
)
def test_experiment_permission_matrix(world, running, monkeypatch, method, path, body, expected):  # noqa: F811
    monkeypatch.setattr("tests.api.test_permission_matrix.snapshot", full_snapshot)
    url = path.format(id=running.pk)
    mismatches = []
    for caller in CALLERS:
        response, changed = _call_and_roll_back(world["clients"][caller], method, url, body)
        status = response.status_code
        if status != expected[caller]:
            mismatches.append(f"{caller}: {status} != {expected[caller]} {response.content!r}")
        elif status >= 400:
            problem(response)
            if changed:
                mismatches.append(f"{caller}: refused with {status} but the database changed")
        elif method != "get" and not changed:
            mismatches.append(f"{caller}: {method} succeeded but changed nothing")
    assert mismatches == []


def test_an_outsider_lists_no_private_experiment(world, running):  # noqa: F811
    listed = world["clients"]["outsider"].get("/api/v1/experiments/").json()
    assert listed["count"] == 0
    assert world["clients"]["viewer"].get("/api/v1/experiments/").json()["count"] == 1
