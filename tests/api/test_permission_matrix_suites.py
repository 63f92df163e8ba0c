"""The permission matrix of the suite endpoints, in the world of test_permission_matrix:
alpha/greet (private) has a suite with one case, alpha-open/hello (internal) one more. Readers
of a prompt read its suites (the service token of alpha too); maintainers, owners and staff
write; outsiders of a private namespace get 404; every refusal changes nothing."""

import pytest

from portal.audit.models import AuditEntry
from prompts.evaluations.models import Case, Suite
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
def suited(world):  # noqa: F811
    admin = system_actor()
    found = {}
    for key, (namespace, name) in {
        "private": ("alpha", "greet"),
        "open": ("alpha-open", "hello"),
    }.items():
        prompt = Prompt.objects.get(namespace__slug=namespace, name=name)
        suite = Suite.objects.create(prompt=prompt, name="smoke", created_by=admin)
        case = suite.cases.create(
            position=1, variables={"name": "Ada"}, assertions=[{"type": "contains", "value": "A"}]
        )
        found[key] = {"suite": suite.pk, "case": case.pk}
    return found


def full_snapshot() -> dict:
    return {
        **snapshot(),
        "suites": list(Suite.objects.order_by("pk").values()),
        "cases": list(Case.objects.order_by("pk").values()),
        "audit": AuditEntry.objects.count(),
    }


P = "/api/v1/prompts/alpha/greet/suites"
OPEN = "/api/v1/prompts/alpha-open/hello/suites"
READ = expect(200, outsider=404, service=200)
WRITE = {"maintainer": 200, "owner": 200, "staff": 200, "outsider": 404}
CASE = {"variables": {"name": "Bob"}, "assertions": [{"type": "icontains", "value": "bob"}]}
IMPORT = {"name": "imported", "format": "jsonl", "content": '{"vars": {}, "assert": []}\n'}
OPERATIONS = [
    ("list suites", "get", f"{P}/", None, READ),
    (
        "create suite",
        "post",
        f"{P}/",
        {"name": "new", "cases": [CASE]},
        expect(403, outsider=404, maintainer=201, owner=201, staff=201),
    ),
    ("read suite", "get", f"{P}/{{suite}}/", None, READ),
    ("change suite", "patch", f"{P}/{{suite}}/", {"description": "changed"}, expect(403, **WRITE)),
    (
        "delete suite",
        "delete",
        f"{P}/{{suite}}/",
        None,
        expect(403, outsider=404, maintainer=204, owner=204, staff=204),
    ),
    ("export promptfoo", "get", f"{P}/{{suite}}/export/?format=promptfoo", None, READ),
    ("export jsonl", "get", f"{P}/{{suite}}/export/?format=jsonl", None, READ),
    (
        "import",
        "post",
        f"{P}/import/",
        IMPORT,
        expect(403, outsider=404, maintainer=201, owner=201, staff=201),
    ),
    (
        "add case",
        "post",
        f"{P}/{{suite}}/cases/",
        CASE,
        expect(403, outsider=404, maintainer=201, owner=201, staff=201),
    ),
    ("read case", "get", f"{P}/{{suite}}/cases/{{case}}/", None, READ),
    (
        "change case",
        "patch",
        f"{P}/{{suite}}/cases/{{case}}/",
        {"threshold": 0.5},
        expect(403, **WRITE),
    ),
    (
        "delete case",
        "delete",
        f"{P}/{{suite}}/cases/{{case}}/",
        None,
        expect(403, outsider=404, maintainer=204, owner=204, staff=204),
    ),
    # An internal namespace: every person reads; only alpha's writers write (the service token
    # of alpha is not granted alpha-open).
    ("list suites, internal", "get", f"{OPEN}/", None, expect(200, service=404)),
    ("read suite, internal", "get", f"{OPEN}/{{open_suite}}/", None, expect(200, service=404)),
    (
        "change suite, internal",
        "patch",
        f"{OPEN}/{{open_suite}}/",
        {"description": "changed"},
        expect(403, maintainer=200, owner=200, staff=200),
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [pytest.param(*operation[1:], id=operation[0]) for operation in OPERATIONS],
)
def test_suite_permission_matrix(world, suited, monkeypatch, method, path, body, expected):  # noqa: F811
    monkeypatch.setattr("tests.api.test_permission_matrix.snapshot", full_snapshot)
    url = path.format(
        suite=suited["private"]["suite"],
        case=suited["private"]["case"],
        open_suite=suited["open"]["suite"],
    )
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


def test_a_suite_of_another_prompt_is_not_found_through_this_one(world, suited):  # noqa: F811
    owner = world["clients"]["owner"]
    assert owner.get(f"{OPEN}/{suited['private']['suite']}/").status_code == 404
    other_case = f"{P}/{suited['private']['suite']}/cases/{suited['open']['case']}/"
    assert owner.get(other_case).status_code == 404
