"""Experiments under concurrency and across the lifecycle, on real PostgreSQL connections:
two proposals at once leave exactly one running; a stop racing a rollback ends once; a
retirement stops what runs; a rejected request cancels its experiment."""

import pytest

from approvals.services import promotion_reject, promotion_right_grant
from approvals.services.experiments import experiment_end, experiment_propose
from portal.audit.models import AuditEntry
from portal.errors import Conflict
from prompts.lifecycle import prompt_retire
from prompts.models import Environment, Experiment
from prompts.services import deployment_set, version_create
from tests.factories import (
    MembershipFactory,
    NamespaceFactory,
    PromptFactory,
    UserFactory,
    system_actor,
)
from tests.test_write_races import run_together

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setup():
    namespace = NamespaceFactory(slug="shop")
    maintainer = UserFactory(username="mae")
    MembershipFactory(team=namespace.team, user=maintainer, role="maintainer")
    admin = system_actor()
    prompt = PromptFactory(namespace=namespace, name="greet")
    v1, v2 = (
        version_create(prompt=prompt, author=admin, template=t, variables=[])
        for t in ("Hello", "Hi")
    )
    env = {e.slug: e for e in Environment.objects.all()}
    for version in (v2, v1):
        deployment_set(
            prompt=prompt, environment=env["development"], version=version, actor=admin, action="t"
        )
    deployment_set(prompt=prompt, environment=env["staging"], version=v1, actor=admin, action="t")
    return {"maintainer": maintainer, "admin": admin, "prompt": prompt, "env": env}


def propose(setup, environment="development", weights=(50, 50)):
    return experiment_propose(
        actor=setup["maintainer"],
        prompt=setup["prompt"],
        environment=setup["env"][environment],
        arms=[{"version": 1, "weight": weights[0]}, {"version": 2, "weight": weights[1]}],
        hypothesis="Hi is friendlier",
        primary_metric="feedback",
        justification="try it",
    )


def test_two_proposals_at_once_leave_exactly_one_running(setup):
    for _ in range(5):
        results = run_together(lambda: propose(setup), lambda: propose(setup, weights=(70, 30)))
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(refused) == 1, results
        assert isinstance(refused[0], Conflict)
        running = Experiment.objects.filter(state="running")
        assert running.count() == 1
        experiment_end(actor=setup["maintainer"], experiment=running.get(), reason="next round")


def test_a_stop_racing_a_rollback_ends_the_experiment_once(setup):
    experiment = propose(setup)
    staff = UserFactory(is_staff=True)

    def stop():
        return experiment_end(actor=setup["maintainer"], experiment=experiment, reason="done")

    def redeploy():
        return deployment_set(
            prompt=setup["prompt"],
            environment=setup["env"]["development"],
            version=setup["prompt"].versions.get(number=2),
            actor=staff,
            action="deployment.rolled_back",
        )

    run_together(stop, redeploy)

    experiment.refresh_from_db()
    assert experiment.state == "stopped"
    stops = AuditEntry.objects.filter(action="experiment.stopped", object_id=str(experiment.pk))
    assert stops.count() == 1


def test_retiring_the_prompt_stops_its_experiments(setup):
    experiment = propose(setup)
    staff = UserFactory(is_staff=True)
    MembershipFactory(team=setup["prompt"].namespace.team, user=staff, role="owner")

    prompt_retire(actor=staff, prompt=setup["prompt"], reason="replaced by greet-2")

    experiment.refresh_from_db()
    assert (experiment.state, experiment.stop_cause) == ("stopped", "retired")


def test_a_rejected_experiment_request_cancels_the_experiment(setup):
    reviewer = UserFactory(username="rita")
    promotion_right_grant(
        actor=setup["admin"],
        namespace=setup["prompt"].namespace,
        environment=setup["env"]["staging"],
        user=reviewer,
    )
    experiment = propose(setup, environment="staging")
    assert experiment.state == "pending"

    promotion_reject(
        actor=reviewer, request=experiment.promotion_request, comment="not this quarter"
    )

    experiment.refresh_from_db()
    assert experiment.state == "cancelled"
    assert "rejected" in experiment.stop_reason
    assert AuditEntry.objects.filter(action="experiment.cancelled").count() == 1
