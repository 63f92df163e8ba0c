"""The permission matrix of scoped tokens (teams.scopes, docs/tokens.md): a token with one
scope does exactly that scope's operations and is refused the others (403 `token_scope`,
nothing changed); a token without scopes does all its user may, as before.

The world: team `alpha` owns the private namespace `alpha` (prompt `greet`: versions 1 and 2
ran in staging, which runs 2 now; version 3 runs in development and `req` asks for it in
staging) and the internal `alpha-open` (prompt `hello`: `lead` asks for version 1 in staging).
Team `beta` owns the internal `beta` (prompt `bprompt`) and the private `beta-private`. `lead`
owns alpha, maintains beta and holds the promotion right on alpha/staging: as a person they
may do every operation below.
"""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from approvals.models import PromotionRequest
from approvals.services import promotion_request, promotion_right_grant
from portal.audit.models import AuditEntry
from prompts.metrics.models import CallEvent
from prompts.models import Deployment, Environment, Prompt, PromptVersion
from prompts.services import deployment_set, version_create
from teams import scopes
from teams.authentication import require_scope
from teams.models import ApiToken, Membership, Namespace
from teams.scopes import ScopeRefused
from teams.tokens import personal_token_create, service_token_create, token_authenticate
from tests.api.conftest import bearer, problem
from tests.factories import (
    MembershipFactory,
    NamespaceFactory,
    PromptFactory,
    TeamFactory,
    UserFactory,
    system_actor,
)

pytestmark = pytest.mark.django_db


class World:
    def __init__(self):
        admin = system_actor()
        alpha, beta = TeamFactory(slug="alpha"), TeamFactory(slug="beta")
        self.lead, req = UserFactory(username="lead"), UserFactory(username="req")
        UserFactory(username="newbie")
        MembershipFactory(team=alpha, user=self.lead, role="owner")
        MembershipFactory(team=alpha, user=req, role="maintainer")
        MembershipFactory(team=beta, user=self.lead, role="maintainer")
        self.alpha = NamespaceFactory(slug="alpha", team=alpha, visibility="private")
        self.open = NamespaceFactory(slug="alpha-open", team=alpha, visibility="internal")
        self.beta = NamespaceFactory(slug="beta", team=beta, visibility="internal")
        NamespaceFactory(slug="beta-private", team=beta, visibility="private")
        env = {e.slug: e for e in Environment.objects.all()}
        promotion_right_grant(
            actor=admin, namespace=self.alpha, environment=env["staging"], user=self.lead
        )
        greet = PromptFactory(namespace=self.alpha, name="greet")
        versions = [
            version_create(prompt=greet, author=admin, template=t, variables=["name"])
            for t in ("Hello {{name}}", "Hi {{name}}", "Hey {{name}}")
        ]
        for environment, version in (
            ("staging", versions[0]),
            ("staging", versions[1]),
            ("development", versions[2]),
        ):
            deployment_set(
                prompt=greet,
                environment=env[environment],
                version=version,
                actor=admin,
                action="deployment.seeded",
            )
        self.pending = promotion_request(
            actor=req,
            prompt=greet,
            version=versions[2],
            environment=env["staging"],
            justification="Ready.",
        )
        hello = PromptFactory(namespace=self.open, name="hello")
        hello_v1 = version_create(prompt=hello, author=admin, template="Hello", variables=[])
        deployment_set(
            prompt=hello,
            environment=env["development"],
            version=hello_v1,
            actor=admin,
            action="deployment.seeded",
        )
        self.own = promotion_request(
            actor=self.lead,
            prompt=hello,
            version=hello_v1,
            environment=env["staging"],
            justification="Mine.",
        )
        bprompt = PromptFactory(namespace=self.beta, name="bprompt")
        version_create(prompt=bprompt, author=admin, template="Beta", variables=[])

    def token(self, *, user=None, **limits):
        return bearer(personal_token_create(actor=user or self.lead, name="t", **limits)[1])


@pytest.fixture
def world(db):
    return World()


def events(prompt: str, key: str = "scopes-1") -> dict:
    at = (timezone.now() - dt.timedelta(minutes=1)).isoformat()
    record = {"prompt": prompt, "version": 1, "environment": "staging", "latency_ms": 5}
    return {"events": [{**record, "idempotency_key": key, "occurred_at": at}]}


P = "/api/v1/prompts/alpha/greet"
DENIED = None  # no scope covers it: refused to every scoped token
# name, method, path, body, the scope it needs, the status for a token that may
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


def snapshot() -> dict:
    return {
        "audit": AuditEntry.objects.count(),
        "events": CallEvent.objects.count(),
        "requests": list(PromotionRequest.objects.order_by("pk").values_list("pk", "state")),
        "deployments": list(Deployment.objects.order_by("pk").values_list("pk", "version_id")),
        "versions": PromptVersion.objects.count(),
        "prompts": list(Prompt.objects.order_by("pk").values_list("pk", "description", "state")),
        "tokens": ApiToken.objects.count(),
        "members": Membership.objects.count(),
        "namespaces": list(Namespace.objects.order_by("pk").values_list("pk", "description")),
    }


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

        if scope is None or needs == scope:
            assert response.status_code == status, (name, response.content)
            assert changed == (method != "get" and needs != scopes.READ), name
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
