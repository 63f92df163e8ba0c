"""The rules of making scoped tokens (docs/tokens.md): writing versions and deciding are
never granted together for overlapping namespaces (also under concurrent creation), service
tokens carry only `read` and `events:write`, a namespace limit needs scopes and stays a limit
when its namespaces are gone. The world: tests/api/scopes_world.py.
"""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.audit.models import AuditEntry
from portal.errors import Invalid
from teams import scopes
from teams.authentication import require_scope
from teams.models import ApiToken, Namespace
from teams.scopes import ScopeRefused
from teams.templatetags.token_tags import token_namespace_slugs
from teams.tokens import personal_token_create, service_token_create, token_authenticate
from tests.api.conftest import bearer, problem
from tests.api.scopes_world import P, ScopesWorld
from tests.factories import NamespaceFactory, UserFactory, system_actor
from tests.test_write_races import run_together

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return ScopesWorld()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"scopes": ["versions:write", "promotions:approve"]}, None),
        ({"scopes": ["read", "versions:write", "rollback"], "namespaces": ["alpha"]}, None),
        ({"scopes": ["versions:write"]}, {"scopes": ["rollback"], "namespaces": ["alpha"]}),
        (
            {"scopes": ["promotions:approve"], "namespaces": ["alpha"]},
            {"scopes": ["versions:write"]},
        ),
        (
            {"scopes": ["versions:write"], "namespaces": ["alpha", "beta"]},
            {"scopes": ["promotions:approve"], "namespaces": ["beta"]},
        ),
    ],
)
def test_writing_versions_and_deciding_are_never_granted_for_overlapping_namespaces(
    world, first, second
):
    client = world.token()  # the person's own token, without scopes
    if second is not None:
        assert (
            client.post("/api/v1/tokens/", {"name": "a", **first}, format="json").status_code == 201
        )
    tokens_before = ApiToken.objects.count()

    refused = client.post("/api/v1/tokens/", {"name": "b", **(second or first)}, format="json")

    body = problem(refused)
    assert refused.status_code == 422
    assert "never goes with" in body["errors"]["scopes"][0]
    assert ApiToken.objects.count() == tokens_before


def test_deciding_and_writing_in_separate_namespaces_is_allowed(world):
    client = world.token()
    writer = client.post(
        "/api/v1/tokens/",
        {"name": "ci", "scopes": ["read", "versions:write"], "namespaces": ["alpha-open"]},
        format="json",
    )
    decider = client.post(
        "/api/v1/tokens/",
        {"name": "release", "scopes": ["rollback"], "namespaces": ["alpha"]},
        format="json",
    )

    assert writer.status_code == decider.status_code == 201
    assert writer.json()["scopes"] == ["read", "versions:write"]
    assert writer.json()["namespaces"] == ["alpha-open"]
    listed = {t["name"]: t for t in client.get("/api/v1/tokens/").json()["results"]}
    assert listed["release"]["scopes"] == ["rollback"]
    assert listed["t"]["scopes"] is None
    entry = AuditEntry.objects.filter(action="token.created", object_id=writer.json()["id"]).get()
    assert entry.after["scopes"] == ["read", "versions:write"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": ["versions:write"]}, "scopes"),
        ({"scopes": ["read", "rollback"]}, "scopes"),
        ({"scopes": ["promotions:request"]}, "scopes"),
        ({"scopes": ["admin"]}, "scopes.0"),
    ],
)
def test_service_tokens_carry_only_read_and_events(world, body, field):
    owner = world.token()

    refused = owner.post(
        "/api/v1/namespaces/alpha/service-tokens/", {"name": "svc", **body}, format="json"
    )

    assert refused.status_code == 422
    assert field in problem(refused)["errors"]
    assert not ApiToken.objects.filter(kind="service").exists()


def test_personal_namespaces_need_scopes_and_must_be_visible(world):
    client = world.token()

    unscoped = client.post("/api/v1/tokens/", {"name": "x", "namespaces": ["alpha"]}, format="json")
    unknown = client.post(
        "/api/v1/tokens/", {"name": "x", "scopes": ["read"], "namespaces": ["nope"]}, format="json"
    )

    assert unscoped.status_code == unknown.status_code == 422
    assert "namespaces" in problem(unscoped)["errors"]
    assert "namespaces" in problem(unknown)["errors"]


def test_require_scope_for_finer_checks(world, rf):
    record = token_authenticate(
        personal_token_create(actor=world.lead, name="r", scopes=["read"])[1]
    )
    legacy = token_authenticate(personal_token_create(actor=world.lead, name="l")[1])
    service = token_authenticate(
        service_token_create(actor=system_actor(), namespaces=[world.alpha], name="s")[1]
    )

    def as_token(auth):
        request = rf.post("/api/v1/sync/")
        request.auth = auth
        return request

    with pytest.raises(ScopeRefused):
        require_scope(as_token(record), scopes.PROMOTIONS_REQUEST)
    with pytest.raises(ScopeRefused):
        require_scope(as_token(service), scopes.PROMOTIONS_REQUEST)
    require_scope(as_token(record), scopes.READ)
    require_scope(as_token(service), scopes.EVENTS_WRITE)
    require_scope(as_token(legacy), scopes.PROMOTIONS_REQUEST)
    require_scope(as_token(None), scopes.PROMOTIONS_REQUEST)  # a session


def test_issue_token_takes_scopes_and_namespaces(world):
    out, err = io.StringIO(), io.StringIO()

    call_command(
        "issue_token",
        "lead",
        "--scope",
        "read",
        "--scope",
        "versions:write",
        "--namespace",
        "alpha-open",
        stdout=out,
        stderr=err,
    )
    with pytest.raises(CommandError, match="never goes with"):
        call_command(
            "issue_token",
            "lead",
            "--scope",
            "versions:write",
            "--scope",
            "rollback",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )

    record = token_authenticate(out.getvalue().strip().splitlines()[-1])
    assert record.scopes == {"read", "versions:write"}
    assert record.namespace_limit == {world.open.pk}
    assert "scopes read versions:write" in err.getvalue()


def test_a_limited_token_whose_namespaces_are_gone_reaches_nothing(world):
    """An empty limit is a limit, not its absence: the token does not widen to everything
    its user may."""
    gone = NamespaceFactory(slug="gone", team=world.alpha.team, visibility="internal")
    _, secret = personal_token_create(
        actor=world.lead, name="ci", scopes=[scopes.READ, scopes.ROLLBACK], namespaces=[gone]
    )
    # No service deletes a namespace (prompts PROTECT it); the ORM's delete, as from a shell
    # or an admin action, cascades its token rows away, which is how the limit can empty.
    Namespace.objects.filter(pk=gone.pk).delete()
    client, owner = bearer(secret), world.token()

    record = token_authenticate(secret)
    assert record.namespace_limit == frozenset()
    for url in (f"{P}/", "/api/v1/prompts/alpha-open/hello/", "/api/v1/resolve/beta/bprompt/"):
        assert client.get(url).status_code == 404, url
    assert client.get("/api/v1/prompts/").json()["results"] == []
    assert client.get("/api/v1/namespaces/").json()["results"] == []
    rolled = client.post(
        f"{P}/rollback/", {"environment": "staging", "justification": "x"}, format="json"
    )
    assert rolled.status_code == 404
    listed = {t["name"]: t for t in owner.get("/api/v1/tokens/").json()["results"]}
    assert listed["ci"]["namespaces"] == []
    assert listed["ci"]["namespace_limited"] is True
    assert token_namespace_slugs(ApiToken.objects.get(name="ci")) == "no namespace"
    # It reaches no namespace, so it overlaps no new token: writing versions is fine.
    writer = owner.post(
        "/api/v1/tokens/", {"name": "w", "scopes": [scopes.VERSIONS_WRITE]}, format="json"
    )
    assert writer.status_code == 201, writer.content


def test_tokens_without_scopes_are_not_weighed_by_the_never_together_rule(world):
    personal_token_create(actor=world.lead, name="legacy")  # may write and decide as its user

    writer, _ = personal_token_create(actor=world.lead, name="ci", scopes=[scopes.VERSIONS_WRITE])

    assert writer.scopes == [scopes.VERSIONS_WRITE]


def test_creating_a_personal_token_locks_its_user_first(world):
    with CaptureQueriesContext(connection) as queries:
        personal_token_create(actor=world.lead, name="ci", scopes=[scopes.VERSIONS_WRITE])

    locks = [q["sql"] for q in queries.captured_queries if " FOR " in q["sql"]]
    assert locks, "no row was locked"
    assert locks[0].startswith('SELECT "auth_user"'), locks[0]
    assert locks[0].endswith("FOR NO KEY UPDATE"), locks[0]
    first_token_read = next(
        i for i, q in enumerate(queries.captured_queries) if '"teams_apitoken"' in q["sql"]
    )
    lock_at = next(i for i, q in enumerate(queries.captured_queries) if q["sql"] == locks[0])
    assert lock_at < first_token_read


@pytest.mark.django_db(transaction=True)
def test_two_tokens_created_at_once_never_both_break_the_rule():
    """Without the user's lock, each creation would pass the check before the other's row
    exists."""
    for round_number in range(10):
        person = UserFactory()
        results = run_together(
            lambda p=person: personal_token_create(
                actor=p, name="ci", scopes=[scopes.VERSIONS_WRITE]
            ),
            lambda p=person: personal_token_create(actor=p, name="ops", scopes=[scopes.ROLLBACK]),
        )

        refused = [r for r in results if isinstance(r, Invalid)]
        assert len(refused) == 1, (round_number, results)
        assert ApiToken.objects.filter(user=person).count() == 1, round_number
