"""The permission matrix of the model registry and the teams' watch lists, in the world of
test_permission_matrix: every person reads models and watch lists; staff register and change
models; alpha's owners (and staff) keep alpha's watch list; a refusal changes nothing."""

import pytest

from portal.audit.models import AuditEntry
from portal.models import OutboxMessage
from prompts.evaluations.models import Model, WatchedModel
from prompts.evaluations.registry import model_create, team_watch_model
from teams.models import Team
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
def registry(world):  # noqa: F811
    admin = system_actor()
    model = model_create(actor=admin, name="gpt-test-2025-01-01", provider="openai")
    other = model_create(actor=admin, name="gpt-next", provider="openai")
    team_watch_model(actor=admin, team=Team.objects.get(slug="alpha"), model=model)
    return {"model": model, "other": other}


def full_snapshot() -> dict:
    return {
        **snapshot(),
        "models": list(Model.objects.order_by("pk").values()),
        "watched": list(WatchedModel.objects.order_by("pk").values_list("team_id", "model_id")),
        "outbox": OutboxMessage.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


NEW = {"name": "gpt-new-2025-02-02", "provider": "openai", "price_in_per_million": 1}
READ = expect(200)
OPERATIONS = [
    ("list models", "get", "/api/v1/models/", None, READ),
    ("read a model", "get", "/api/v1/models/{model}/", None, READ),
    ("register a model", "post", "/api/v1/models/", NEW, expect(403, staff=201)),
    (
        "change a model",
        "patch",
        "/api/v1/models/{model}/",
        {"released_at": "2025-03-01T00:00:00Z", "notes": "re-released"},
        expect(403, staff=200),
    ),
    ("list a team's watched models", "get", "/api/v1/teams/alpha/watched-models/", None, READ),
    (
        "watch a model",
        "post",
        "/api/v1/teams/alpha/watched-models/",
        {"model": "{other}"},
        expect(403, owner=201, staff=201),
    ),
    (
        "stop watching a model",
        "delete",
        "/api/v1/teams/alpha/watched-models/{model}/",
        None,
        expect(403, owner=204, staff=204),
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [pytest.param(*operation[1:], id=operation[0]) for operation in OPERATIONS],
)
def test_model_permission_matrix(world, registry, monkeypatch, method, path, body, expected):  # noqa: F811
    monkeypatch.setattr("tests.api.test_permission_matrix.snapshot", full_snapshot)
    names = {"model": registry["model"].name, "other": registry["other"].name}
    url = path.format(**names)
    if body is not None:
        body = {key: str(value).format(**names) for key, value in body.items()}
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


def test_a_watch_list_of_an_unknown_team_is_missing(world):  # noqa: F811
    response = world["clients"]["owner"].get("/api/v1/teams/nope/watched-models/")
    assert problem(response)["status"] == 404
