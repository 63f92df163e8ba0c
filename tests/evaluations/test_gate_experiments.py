"""The evaluation gate also holds experiments: every challenger would serve part of the
environment's traffic, so each needs the passing runs a promotion of it would."""

import pytest

from approvals.services.experiments import experiment_propose
from portal.errors import Conflict, ErrorCode
from prompts.models import Experiment
from prompts.services import deployment_set, version_create
from tests.evaluations.test_gate import gated  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def propose(world, v2):
    return experiment_propose(
        actor=world.users["mia"],
        prompt=world.prompt,
        environment=world.env["development"],
        arms=[{"version": 1, "weight": 50}, {"version": v2.number, "weight": 50}],
        hypothesis="Hi is warmer",
        primary_metric="feedback",
        justification="try it",
    )


def test_an_untested_challenger_is_refused_and_a_tested_one_starts(gated):  # noqa: F811
    v2 = version_create(
        prompt=gated.prompt,
        author=gated.staff,
        template="Hi {{name}}",
        variables=["name"],
        model_config={"model": "local"},
    )
    deployment_set(
        prompt=gated.prompt,
        environment=gated.env["development"],
        version=gated.v1,
        actor=gated.staff,
        action="deployment.seeded",
    )

    with pytest.raises(Conflict) as refused:
        propose(gated, v2)

    assert refused.value.code == ErrorCode.EVALUATION_GATE
    assert "'smoke' has no run" in refused.value.detail
    assert not Experiment.objects.exists()

    gated.run("smoke", version=v2)
    gated.run("tone", version=v2)
    assert propose(gated, v2).state == "running"
