"""The permission matrix of scoped tokens (teams.scopes, docs/tokens.md): a token with one
scope does exactly that scope's operations and is refused the others (403 `token_scope`,
nothing changed); a token without scopes does all its user may, as before. A token limited to
namespaces reaches nothing outside them. The world: tests/api/scopes_world.py.
"""

import pytest
from django.db import transaction

from teams import scopes
from teams.tokens import service_token_create
from tests.api.conftest import bearer, problem
from tests.api.scopes_world import P, ScopesWorld, events, snapshot
from tests.factories import UserFactory, system_actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return ScopesWorld()


SYNCED = """\
namespace: alpha
name: synced
template: Synced {{name}}
variables: [name]
"""

DENIED = None  # no scope covers it: refused to every scoped token
# name, method, path, body, the scope that opens it (or a tuple of scopes each of which does),
# the status for a token that may
OPERATIONS = [
    ("read a prompt", "get", f"{P}/", None, scopes.READ, 200),
    ("list promotions", "get", "/api/v1/promotions/", None, scopes.READ, 200),
    ("resolve", "get", "/api/v1/resolve/alpha/greet/?environment=staging", None, scopes.READ, 200),
    (
        "render",
        "post",
        "/api/v1/resolve/alpha/greet/render/",
        {"environment": "staging", "variables": {"name": "Ada"}},
        scopes.READ,
        200,
    ),
    (
        "batch resolve",
        "post",
        "/api/v1/resolve/batch/",
        {"prompts": [{"prompt": "alpha/greet", "environment": "staging"}]},
        scopes.READ,
        200,
    ),
    (
        "dry-run sync",
        "post",
        "/api/v1/sync/",
        {"files": [{"path": "alpha/synced.yaml", "content": SYNCED}], "dry_run": True},
        (scopes.READ, scopes.VERSIONS_WRITE),
        200,
    ),
    (
        "sync",
        "post",
        "/api/v1/sync/",
        {"files": [{"path": "alpha/synced.yaml", "content": SYNCED}]},
        scopes.VERSIONS_WRITE,
        200,
    ),
    (
        "create prompt",
        "post",
        "/api/v1/prompts/",
        {"namespace": "alpha", "name": "fresh"},
        scopes.VERSIONS_WRITE,
        201,
    ),
    ("edit prompt", "patch", f"{P}/", {"description": "new"}, scopes.VERSIONS_WRITE, 200),
    (
        "create version",
        "post",
        f"{P}/versions/",
        {"template": "Yo {{name}}", "variables": ["name"]},
        scopes.VERSIONS_WRITE,
        201,
    ),
    (
        "request promotion",
        "post",
        "/api/v1/promotions/",
        {"prompt": "alpha/greet", "version": 3, "environment": "staging", "justification": "Go."},
        scopes.PROMOTIONS_REQUEST,
        201,
    ),
    (
        "cancel own request",
        "post",
        "/api/v1/promotions/{own}/cancel/",
        {},
        "promotions:request",
        200,
    ),
    (
        "approve",
        "post",
        "/api/v1/promotions/{pending}/approve/",
        {},
        scopes.PROMOTIONS_APPROVE,
        200,
    ),
    (
        "reject",
        "post",
        "/api/v1/promotions/{pending}/reject/",
        {"comment": "Not yet."},
        scopes.PROMOTIONS_APPROVE,
        200,
    ),
    (
        "roll back",
        "post",
        f"{P}/rollback/",
        {"environment": "staging", "justification": "v2 is rude."},
        scopes.ROLLBACK,
        200,
    ),
    ("report events", "post", "/api/v1/events/", events("alpha/greet"), scopes.EVENTS_WRITE, 202),
    (
        "deprecate",
        "post",
        f"{P}/deprecate/",
        {"reason": "Use hello.", "sunset_at": "2099-01-31T23:59:59Z"},
        DENIED,
        200,
    ),
    ("create a token", "post", "/api/v1/tokens/", {"name": "more"}, DENIED, 201),
    (
        "edit namespace",
        "patch",
        "/api/v1/namespaces/alpha/",
        {"description": "changed"},
        DENIED,
        200,
    ),
    (
        "add member",
        "post",
        "/api/v1/teams/alpha/members/",
        {"username": "newbie", "role": "viewer"},
        DENIED,
        201,
    ),
]


class _Undo(Exception):
    pass


def call(client, method, url, body):
    """One request in a savepoint, undone after: every operation meets the same world."""
    outcome = {}
    try:
        with transaction.atomic():
            before = snapshot()
            response = getattr(client, method)(url, body, format="json")
            outcome = {"response": response, "changed": snapshot() != before}
            raise _Undo
    except _Undo:
        pass
    return outcome["response"], outcome["changed"]


@pytest.mark.parametrize("scope", [*scopes.SCOPES, None], ids=[*scopes.SCOPES, "no scopes"])
def test_a_token_does_exactly_what_its_scope_covers(world, scope):
    client = world.token(scopes=[scope] if scope else None)
    ids = {"own": world.own.pk, "pending": world.pending.pk}

    for name, method, path, body, needs, status in OPERATIONS:
        response, changed = call(client, method, path.format(**ids), body)

        opened_by = needs if isinstance(needs, tuple) else (needs,)
        if scope is None or scope in opened_by:
            assert response.status_code == status, (name, response.content)
            assert changed == (method != "get" and scopes.READ not in opened_by), name
        else:
            assert response.status_code == 403, (name, response.content)
            assert problem(response)["code"] == "token_scope", name
            assert not changed, name


def test_versions_write_is_refused_deciding_even_when_its_user_holds_the_right(world):
    client = world.token(scopes=[scopes.VERSIONS_WRITE, scopes.PROMOTIONS_REQUEST])
    before = snapshot()

    approve = client.post(f"/api/v1/promotions/{world.pending.pk}/approve/", {}, format="json")
    reject = client.post(
        f"/api/v1/promotions/{world.pending.pk}/reject/", {"comment": "x"}, format="json"
    )
    roll_back = client.post(
        f"{P}/rollback/", {"environment": "staging", "justification": "x"}, format="json"
    )

    for response in (approve, reject, roll_back):
        assert response.status_code == 403
        assert problem(response)["code"] == "token_scope"
    assert snapshot() == before
    legacy = world.token()  # the same person, through a token without scopes
    approved = legacy.post(f"/api/v1/promotions/{world.pending.pk}/approve/", {}, format="json")
    assert approved.status_code == 200


def test_a_namespace_limited_token_reaches_nothing_outside_its_namespaces(world):
    client = world.token(
        scopes=[scopes.READ, scopes.VERSIONS_WRITE, scopes.EVENTS_WRITE], namespaces=[world.open]
    )
    before = snapshot()

    private = client.get(f"{P}/")  # lead may read it (owner of alpha)
    internal = client.get("/api/v1/prompts/beta/bprompt/")
    resolved = client.get("/api/v1/resolve/beta/bprompt/?version=1")
    namespace = client.get("/api/v1/namespaces/beta-private/")
    create = client.post("/api/v1/prompts/", {"namespace": "beta", "name": "x"}, format="json")
    version = client.post(
        "/api/v1/prompts/beta/bprompt/versions/", {"template": "B2", "variables": []}, format="json"
    )
    reported = client.post("/api/v1/events/", events("beta/bprompt"), format="json")

    assert private.status_code == internal.status_code == resolved.status_code == 404
    assert namespace.status_code == version.status_code == 404
    assert create.status_code in (403, 404)
    assert reported.status_code == 202
    assert reported.json()["accepted"] == 0
    assert snapshot() == before
    listed = client.get("/api/v1/prompts/").json()["results"]
    assert {p["namespace"] for p in listed} == {"alpha-open"}
    slugs = [n["slug"] for n in client.get("/api/v1/namespaces/").json()["results"]]
    assert slugs == ["alpha-open"]
    inside = client.post(
        "/api/v1/prompts/alpha-open/hello/versions/",
        {"template": "Hi", "variables": []},
        format="json",
    )
    assert inside.status_code == 201


def test_a_namespace_limited_token_does_not_decide_outside_its_namespaces(world):
    approver = world.token(scopes=[scopes.PROMOTIONS_APPROVE], namespaces=[world.open])
    rollback = world.token(scopes=[scopes.ROLLBACK], namespaces=[world.open])
    requester = world.token(scopes=[scopes.PROMOTIONS_REQUEST], namespaces=[world.open])
    before = snapshot()

    approved = approver.post(f"/api/v1/promotions/{world.pending.pk}/approve/", {}, format="json")
    rolled = rollback.post(
        f"{P}/rollback/", {"environment": "staging", "justification": "x"}, format="json"
    )
    requested = requester.post(
        "/api/v1/promotions/",
        {"prompt": "alpha/greet", "version": 3, "environment": "staging", "justification": "x"},
        format="json",
    )

    assert approved.status_code in (403, 404)
    assert rolled.status_code == 404
    assert requested.status_code in (403, 404)
    assert snapshot() == before


def test_a_namespace_limited_staff_token_has_no_organisation_wide_powers(world):
    staff = UserFactory(username="boss", is_staff=True)
    limited = world.token(user=staff, scopes=[scopes.READ], namespaces=[world.open])
    unlimited = world.token(user=staff, scopes=[scopes.READ])

    assert limited.get("/api/v1/audit/").status_code == 403
    assert limited.get("/api/v1/users/").status_code == 403
    assert limited.get(f"{P}/").status_code == 404
    assert unlimited.get("/api/v1/audit/").status_code == 200
    assert unlimited.get(f"{P}/").status_code == 200


def test_scoped_service_tokens(world):
    admin = system_actor()
    reader = service_token_create(actor=admin, namespaces=[world.alpha], name="r", scopes=["read"])[
        1
    ]
    reporter = service_token_create(
        actor=admin, namespaces=[world.alpha], name="e", scopes=["events:write"]
    )[1]
    url = "/api/v1/resolve/alpha/greet/?environment=staging"

    assert bearer(reader).get(url).status_code == 200
    refused = bearer(reader).post("/api/v1/events/", events("alpha/greet"), format="json")
    assert refused.status_code == 403
    assert problem(refused)["code"] == "token_scope"
    assert bearer(reporter).get(url).status_code == 403
    reported = bearer(reporter).post("/api/v1/events/", events("alpha/greet"), format="json")
    assert reported.status_code == 202
    assert reported.json()["accepted"] == 1


def test_the_warm_resolve_path_holds_a_service_token_to_its_scopes(
    world, django_assert_num_queries
):
    admin = system_actor()
    reader = bearer(
        service_token_create(actor=admin, namespaces=[world.alpha], name="r", scopes=["read"])[1]
    )
    reporter = bearer(
        service_token_create(
            actor=admin, namespaces=[world.alpha], name="e", scopes=["events:write"]
        )[1]
    )
    url = "/api/v1/resolve/alpha/greet/?environment=staging"
    assert reader.get(url).status_code == 200  # warms the answer and the reader's record
    assert reporter.get(url).status_code == 403  # caches the reporter's record

    with django_assert_num_queries(0):
        warm = reader.get(url)
    refused = reporter.get(url)

    assert warm.status_code == 200
    assert refused.status_code == 403
    assert problem(refused)["code"] == "token_scope"


def test_batch_resolve_holds_a_namespace_limited_token_to_its_namespaces(world):
    """Batch resolve names its prompts in the body (no namespace in the path): a prompt of
    an internal namespace outside the limit answers 404 in the batch, as it would alone."""
    limited = world.token(scopes=[scopes.READ], namespaces=[world.open])
    reader = world.token(scopes=[scopes.READ])
    body = {"prompts": [{"prompt": "beta/bprompt", "version": 1}]}

    refused = limited.post("/api/v1/resolve/batch/", body, format="json")
    answered = reader.post("/api/v1/resolve/batch/", body, format="json")

    assert refused.status_code == 200
    (item,) = refused.json()["changed"]
    assert item["status"] == 404
    assert "answer" not in item
    assert answered.status_code == 200
    assert '"Beta"' in answered.content.decode()
