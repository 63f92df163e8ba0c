"""The permission matrix of the evaluation-run endpoints, in the world of test_permission_matrix:
alpha/greet (private) has a suite `smoke` of one case and a queued run of it on `local`. Readers
of the prompt read; maintainers, owners and staff start and cancel; the outsider meets 404; the
service token reads only; and a refusal changes nothing."""

import pytest

from prompts.evaluations import runs
from prompts.evaluations.models import CaseResult, Model, Run, Suite
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
def queued(world):  # noqa: F811
    greet = Prompt.objects.get(namespace__slug="alpha", name="greet")
    suite = Suite.objects.create(prompt=greet, name="smoke", created_by=system_actor())
    suite.cases.create(
        position=1, variables={"name": "Ada"}, assertions=[{"type": "contains", "value": "Ada"}]
    )
    return runs.run_create(
        actor=None,
        prompt=greet,
        version=greet.versions.get(number=1),
        suite=suite,
        model=Model.objects.get(name="local"),
    )


def full_snapshot() -> dict:
    return {
        **snapshot(),
        "runs": list(Run.objects.order_by("pk").values_list("pk", "state", "done")),
        "results": list(CaseResult.objects.order_by("pk").values_list("pk", "run_id")),
    }


READ = expect(200, outsider=404, service=200)
WRITE = expect(403, outsider=404, maintainer=202, owner=202, staff=202)
OPERATIONS = [
    ("list runs", "get", "/api/v1/evaluations/", None, expect(200, service=200)),
    ("read run", "get", "/api/v1/evaluations/{id}/", None, READ),
    (
        "start run",
        "post",
        "/api/v1/evaluations/",
        {"prompt": "alpha/greet", "version": 2, "suite": "smoke", "model": "local"},
        WRITE,
    ),
    (
        "cancel run",
        "post",
        "/api/v1/evaluations/{id}/cancel/",
        None,
        expect(403, outsider=404, maintainer=200, owner=200, staff=200),
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [pytest.param(*operation[1:], id=operation[0]) for operation in OPERATIONS],
)
def test_run_permission_matrix(world, queued, monkeypatch, method, path, body, expected):  # noqa: F811
    monkeypatch.setattr("tests.api.test_permission_matrix.snapshot", full_snapshot)
    url = path.format(id=queued.pk)
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


def test_an_outsider_lists_no_private_run(world, queued):  # noqa: F811
    assert world["clients"]["outsider"].get("/api/v1/evaluations/").json()["count"] == 0
    assert world["clients"]["viewer"].get("/api/v1/evaluations/").json()["count"] == 1
    assert world["clients"]["service"].get("/api/v1/evaluations/").json()["count"] == 1
