"""The permission matrix of the gate and playground endpoints, in the world of
test_permission_matrix: alpha/greet (private, v1 and v2 on `local`) has a suite `smoke` of one
case, and one playground call; every caller meets the same world, and a refusal changes
nothing."""

import pytest

from prompts.evaluations.models import Case, Model, PlaygroundCall, Run
from prompts.evaluations.playground import playground_run
from prompts.evaluations.suites import CaseInput, suite_create
from prompts.models import Prompt
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
def lab(world):  # noqa: F811
    admin = system_actor()
    greet = Prompt.objects.get(namespace__slug="alpha", name="greet")
    suite = suite_create(
        actor=admin,
        prompt=greet,
        name="smoke",
        cases=[
            CaseInput(variables={"name": "Ada"}, assertions=[{"type": "contains", "value": "Ada"}])
        ],
    )
    call = playground_run(
        actor=admin,
        prompt=greet,
        model=Model.objects.get(name="local"),
        variables={"name": "Ada"},
        version=greet.versions.get(number=1),
    )
    return {"suite": suite.pk, "call": call.pk}


def full_snapshot() -> dict:
    return {
        **snapshot(),
        "calls": list(PlaygroundCall.objects.order_by("pk").values_list("pk", "output")),
        "cases": list(Case.objects.order_by("pk").values_list("pk", "suite_id", "assertions")),
        "runs": list(Run.objects.order_by("pk").values_list("pk", "trigger")),
    }


P = "/api/v1/prompts/alpha/greet"
READ = expect(200, outsider=404, service=200)
EDITORS = {"viewer": 403, "promoter": 403, "outsider": 404, "service": 403}
OPERATIONS = [
    ("list playground calls", "get", f"{P}/playground/", None, READ),
    (
        "run the playground",
        "post",
        f"{P}/playground/",
        {"version": 1, "model": "local", "variables": {"name": "Ada"}},
        expect(201, **EDITORS),
    ),
    (
        "save a playground call as a case",
        "post",
        f"{P}/playground/{{call}}/save/",
        {"suite": "{suite}", "assertion": "equals"},
        expect(201, **EDITORS),
    ),
    ("read the gate", "get", f"{P}/versions/1/gate/?environment=production", None, READ),
    (
        "run what the gate misses",
        "post",
        f"{P}/versions/1/gate/",
        {"environment": "production"},
        expect(202, **EDITORS),
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [pytest.param(*operation[1:], id=operation[0]) for operation in OPERATIONS],
)
def test_gate_and_playground_permission_matrix(
    world,  # noqa: F811
    lab,
    monkeypatch,
    method,
    path,
    body,
    expected,
):
    monkeypatch.setattr("tests.api.test_permission_matrix.snapshot", full_snapshot)
    url = path.format(call=lab["call"])
    if body:
        body = {key: lab["suite"] if value == "{suite}" else value for key, value in body.items()}
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
