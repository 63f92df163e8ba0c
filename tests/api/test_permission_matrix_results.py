"""Who reads GET /api/v1/experiments/{id}/results/, in the world of test_permission_matrix:
an experiment runs on alpha/greet (private namespace `alpha`) in development, with events
reported by alpha's service token. Readers of the prompt get the results, service tokens of
its namespace too; everyone else gets 404 (nothing revealed), anonymous and dead tokens 401;
a read changes nothing."""

import pytest

from prompts import experiments
from prompts.metrics.models import CallEvent
from prompts.models import Environment, Experiment, Prompt
from prompts.services import deployment_set
from teams.models import Namespace
from tests.api.conftest import problem, service_client
from tests.api.test_permission_matrix import (  # noqa: F401 - the fixture
    CALLERS,
    _call_and_roll_back,
    expect,
    snapshot,
    world,
)
from tests.factories import system_actor

pytestmark = pytest.mark.django_db

READERS = expect(200, outsider=404, service=200)


@pytest.fixture
def guarded(world):  # noqa: F811
    admin = system_actor()
    greet = Prompt.objects.get(namespace__slug="alpha", name="greet")
    v1 = greet.versions.get(number=1)
    development = Environment.objects.get(slug="development")
    deployment_set(prompt=greet, environment=development, version=v1, actor=admin, action="t")
    experiment = experiments.experiment_create(
        actor=admin,
        prompt=greet,
        environment=development,
        arms=[{"version": 1, "weight": 50}, {"version": 2, "weight": 50}],
        hypothesis="v2 greets better",
        primary_metric="error_rate",
        guardrails=[{"metric": "error_rate", "max_increase": 0.5}],
    )
    experiment = experiments.experiment_start(actor=admin, experiment=experiment)
    events = [
        {
            "prompt": "alpha/greet",
            "version": version,
            "environment": "development",
            "experiment": experiment.pk,
            "arm": arm,
            "latency_ms": 100 + i,
            "error": i % 10 == 0,
            "idempotency_key": f"{arm}-{i}",
            "occurred_at": experiment.started_at.isoformat(),
        }
        for arm, version in (("A", 1), ("B", 2))
        for i in range(20)
    ]
    response = world["clients"]["service"].post(
        "/api/v1/events/", {"events": events}, format="json"
    )
    assert response.json()["accepted"] == 40, response.content
    return experiment


def full_snapshot() -> dict:
    return {
        **snapshot(),
        "experiments": list(Experiment.objects.order_by("pk").values_list("pk", "state")),
        "events": CallEvent.objects.count(),
    }


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_results_permission_matrix(world, guarded, monkeypatch, method):  # noqa: F811
    monkeypatch.setattr("tests.api.test_permission_matrix.snapshot", full_snapshot)
    url = f"/api/v1/experiments/{guarded.pk}/results/"
    # Read-only: a person's write is 405 before any lookup (so it reveals nothing, whatever the
    # id); a service token may only read (403).
    expected = READERS if method == "get" else expect(405, service=403)
    mismatches = []
    for caller in CALLERS:
        response, changed = _call_and_roll_back(world["clients"][caller], method, url, {})
        status = response.status_code
        if status != expected[caller]:
            mismatches.append(f"{caller}: {status} != {expected[caller]} {response.content!r}")
        elif status >= 400:
            problem(response)
        if changed:
            mismatches.append(f"{caller}: {method} changed the database")
        if status == 200:
            assert [arm["count"] for arm in response.json()["arms"]] == [20, 20]
    assert mismatches == []


def test_a_service_token_of_another_namespace_gets_404(world, guarded):  # noqa: F811
    other = service_client(
        actor=system_actor(), namespaces=[Namespace.objects.get(slug="alpha-open")]
    )

    response = other.get(f"/api/v1/experiments/{guarded.pk}/results/")

    assert response.status_code == 404
    assert "results" not in problem(response)["detail"]


def test_an_unknown_experiment_is_404_for_everyone(world, guarded):  # noqa: F811
    for caller in ("viewer", "staff", "service"):
        response = world["clients"][caller].get(f"/api/v1/experiments/{guarded.pk + 99}/results/")
        assert response.status_code == 404
        problem(response)
