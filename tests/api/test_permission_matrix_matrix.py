"""The permission matrix of the evaluation matrix (GET /prompts/{ns}/{name}/evaluations/matrix/),
in the world of test_permission_matrix, where alpha/greet (private) has a suite with a
finished run on `local`: readers of the prompt (and alpha's service token) see it, anyone
else gets 404 (never 403), anonymous and dead tokens 401; a read changes nothing."""

import pytest

from prompts.evaluations import runs
from prompts.evaluations.models import Model, Run
from prompts.evaluations.suites import CaseInput, suite_create
from prompts.models import Prompt
from tests.api.conftest import problem
from tests.api.test_permission_matrix import (  # noqa: F401 - the fixture
    CALLERS,
    READERS_OF_ALPHA,
    _call_and_roll_back,
    expect,
    world,
)
from tests.factories import system_actor

pytestmark = pytest.mark.django_db

M = "evaluations/matrix/"
OPERATIONS = [
    (
        "matrix of a private prompt",
        f"/api/v1/prompts/alpha/greet/{M}",
        expect(404, service=200, **READERS_OF_ALPHA),
    ),
    (
        "one suite's matrix of a private prompt",
        f"/api/v1/prompts/alpha/greet/{M}?suite={{suite}}",
        expect(404, service=200, **READERS_OF_ALPHA),
    ),
    (
        "a suite that does not exist, of a private prompt",
        f"/api/v1/prompts/alpha/greet/{M}?suite=987654",
        expect(404, service=422, **dict.fromkeys(READERS_OF_ALPHA, 422)),
    ),
    (
        "matrix of an internal prompt",
        f"/api/v1/prompts/alpha-open/hello/{M}",
        expect(200, service=404),
    ),
    (
        "matrix of a prompt that does not exist",
        f"/api/v1/prompts/alpha/nothing/{M}",
        expect(404, service=404),
    ),
]


@pytest.fixture
def evaluated(world):  # noqa: F811
    greet = Prompt.objects.get(namespace__slug="alpha", name="greet")
    case = CaseInput(variables={"name": "Ada"}, assertions=[{"type": "contains", "value": "Ada"}])
    suite = suite_create(actor=system_actor(), prompt=greet, name="smoke", cases=[case])
    run = runs.run_create(
        actor=None,
        prompt=greet,
        version=greet.versions.get(number=1),
        suite=suite,
        model=Model.objects.get(name="local"),
    )
    runs.run_execute(run_id=run.pk)
    return {**world, "suite": suite, "run": Run.objects.get(pk=run.pk)}


@pytest.mark.parametrize(
    ("path", "expected"),
    [pytest.param(*operation[1:], id=operation[0]) for operation in OPERATIONS],
)
def test_permission_matrix_evaluation_matrix(evaluated, path, expected):
    url = path.format(suite=evaluated["suite"].pk)
    mismatches = []

    for caller in CALLERS:
        response, changed = _call_and_roll_back(evaluated["clients"][caller], "get", url, None)
        status = response.status_code
        if status != expected[caller]:
            mismatches.append(f"{caller}: {status} != {expected[caller]} {response.content!r}")
            continue
        if status >= 400:
            problem(response)
        if changed:
            mismatches.append(f"{caller}: a read changed the database")
        if status == 200 and "greet" in url:
            (smoke,) = response.json()["suites"]
            if [c["run"] for c in smoke["cells"]] != [evaluated["run"].pk]:
                mismatches.append(f"{caller}: cells {smoke['cells']}")

    assert mismatches == []
