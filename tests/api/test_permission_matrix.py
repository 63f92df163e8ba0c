"""Every endpoint and method, for every kind of caller: the status, and nothing changed when
refused.

The world: team `alpha` owns the private namespace `alpha` (prompt `greet`, two versions) and
the internal namespace `alpha-open` (prompt `hello`); team `beta` owns the internal namespace
`beta` (prompt `bprompt`). Callers: anonymous, an alpha viewer, a beta owner (`outsider`), an
alpha maintainer, an alpha owner, a `promoter` with no membership but the promotion right on
alpha/staging, staff, a service token of `alpha`, and revoked and expired personal tokens.
"""

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from guardian.models import GroupObjectPermission, UserObjectPermission
from rest_framework.test import APIClient

from approvals.services import promotion_right_grant
from prompts.models import Deployment, Environment, Prompt, PromptVersion
from prompts.services import version_create
from teams.models import ApiToken, Membership, Namespace, Team
from teams.tokens import personal_token_create, service_token_create
from tests.api.conftest import (
    expired_client,
    personal_client,
    problem,
    revoked_client,
    service_client,
)
from tests.factories import (
    MembershipFactory,
    NamespaceFactory,
    PromptFactory,
    TeamFactory,
    UserFactory,
    system_actor,
)

pytestmark = pytest.mark.django_db

PEOPLE = ("viewer", "outsider", "maintainer", "owner", "promoter", "staff")
CALLERS = (*PEOPLE, "service", "anonymous", "revoked", "expired")
READERS_OF_ALPHA = {"viewer": 200, "maintainer": 200, "owner": 200, "promoter": 200, "staff": 200}


@pytest.fixture
def world(db):
    admin = system_actor()
    alpha, beta = TeamFactory(slug="alpha"), TeamFactory(slug="beta")
    users = {name: UserFactory(username=name, is_staff=name == "staff") for name in PEOPLE}
    UserFactory(username="newbie")
    for name, role in (("viewer", "viewer"), ("maintainer", "maintainer"), ("owner", "owner")):
        MembershipFactory(team=alpha, user=users[name], role=role)
    MembershipFactory(team=beta, user=users["outsider"], role="owner")
    private = NamespaceFactory(slug="alpha", team=alpha, visibility="private")
    NamespaceFactory(slug="alpha-open", team=alpha, visibility="internal")
    beta_ns = NamespaceFactory(slug="beta", team=beta, visibility="internal")
    staging = Environment.objects.get(slug="staging")
    promotion_right_grant(
        actor=admin, namespace=private, environment=staging, user=users["promoter"]
    )
    greet = PromptFactory(namespace=private, name="greet")
    for text in ("Hello {{name}}", "Hi {{name}}"):
        version_create(prompt=greet, author=admin, template=text, variables=["name"])
    hello = PromptFactory(namespace=Namespace.objects.get(slug="alpha-open"), name="hello")
    version_create(prompt=hello, author=admin, template="Hello", variables=[])
    PromptFactory(namespace=beta_ns, name="bprompt")
    owner_token, _ = personal_token_create(actor=users["owner"], name="owner's other token")
    service_token, _ = service_token_create(actor=admin, namespaces=[private], name="alpha svc")
    clients = {name: personal_client(user) for name, user in users.items()}
    clients["service"] = service_client(actor=admin, namespaces=[private])
    clients["anonymous"] = APIClient()
    clients["revoked"] = revoked_client(users["owner"])
    clients["expired"] = expired_client(users["owner"])
    return {"clients": clients, "owner_token": owner_token.prefix, "svc": service_token.prefix}


def snapshot() -> dict:
    """Every governed row, minus bookkeeping that a read may touch (`last_used_at`)."""
    return {
        "users": list(
            get_user_model()
            .objects.order_by("pk")
            .values_list("username", "email", "is_staff", "is_active", "password")
        ),
        "groups": sorted(
            get_user_model().groups.through.objects.values_list("user_id", "group_id")
        ),
        "teams": list(Team.objects.order_by("pk").values_list("slug", "name", "description")),
        "memberships": list(
            Membership.objects.order_by("pk").values_list("team_id", "user_id", "role")
        ),
        "namespaces": list(
            Namespace.objects.order_by("pk").values_list(
                "slug", "team_id", "description", "visibility"
            )
        ),
        "prompts": list(
            Prompt.objects.order_by("pk").values_list(
                "namespace_id", "name", "description", "state"
            )
        ),
        "tags": sorted(Prompt.tags.through.objects.values_list("prompt_id", "tag_id")),
        "versions": list(PromptVersion.objects.order_by("pk").values_list("pk", "sha256")),
        "environments": list(Environment.objects.order_by("pk").values()),
        "deployments": list(Deployment.objects.order_by("pk").values_list("pk", "version_id")),
        "tokens": list(
            ApiToken.objects.order_by("prefix").values_list("prefix", "revoked", "expiry_date")
        ),
        "user_perms": sorted(
            UserObjectPermission.objects.values_list("user_id", "permission_id", "object_pk")
        ),
        "group_perms": sorted(
            GroupObjectPermission.objects.values_list("group_id", "permission_id", "object_pk")
        ),
    }


def expect(default, **overrides):
    """Expected status per caller: `default` for people not named, 403 for the service token
    unless named, 401 for anonymous, revoked and expired tokens."""
    table = dict.fromkeys(PEOPLE, default)
    table["service"] = 403
    table.update(overrides)
    for name in ("anonymous", "revoked", "expired"):
        table[name] = 401
    return table


P = "/api/v1/prompts/alpha/greet"
STAFF_ONLY_CREATE = expect(403, staff=201)
OWNER_WRITES = {"owner": 200, "staff": 200, "outsider": 404}

OPERATIONS = [
    ("list users", "get", "/api/v1/users/", None, expect(403, staff=200)),
    (
        "create user",
        "post",
        "/api/v1/users/",
        {"username": "created", "password": "A-long-enough-pass-42"},
        STAFF_ONLY_CREATE,
    ),
    ("list own tokens", "get", "/api/v1/tokens/", None, expect(200)),
    ("create token", "post", "/api/v1/tokens/", {"name": "ci"}, expect(201)),
    (
        "revoke owner's token",
        "delete",
        "/api/v1/tokens/{owner_token}/",
        None,
        expect(404, owner=204),
    ),
    ("list teams", "get", "/api/v1/teams/", None, expect(200)),
    (
        "create team",
        "post",
        "/api/v1/teams/",
        {"slug": "gamma", "name": "Gamma"},
        STAFF_ONLY_CREATE,
    ),
    ("read team", "get", "/api/v1/teams/alpha/", None, expect(200)),
    (
        "edit team",
        "patch",
        "/api/v1/teams/alpha/",
        {"name": "Alpha!"},
        expect(403, owner=200, staff=200),
    ),
    ("list members", "get", "/api/v1/teams/alpha/members/", None, expect(200)),
    (
        "add member",
        "post",
        "/api/v1/teams/alpha/members/",
        {"username": "newbie", "role": "viewer"},
        expect(403, owner=201, staff=201),
    ),
    (
        "change role",
        "patch",
        "/api/v1/teams/alpha/members/viewer/",
        {"role": "maintainer"},
        expect(403, owner=200, staff=200),
    ),
    (
        "remove member",
        "delete",
        "/api/v1/teams/alpha/members/viewer/",
        None,
        expect(403, owner=204, staff=204),
    ),
    ("list namespaces", "get", "/api/v1/namespaces/", None, expect(200)),
    (
        "create namespace",
        "post",
        "/api/v1/namespaces/",
        {"slug": "alpha-two", "team": "alpha"},
        expect(403, owner=201, staff=201),
    ),
    (
        "read private namespace",
        "get",
        "/api/v1/namespaces/alpha/",
        None,
        expect(404, **READERS_OF_ALPHA),
    ),
    (
        "edit namespace",
        "patch",
        "/api/v1/namespaces/alpha/",
        {"description": "changed"},
        expect(403, **OWNER_WRITES),
    ),
    (
        "list rights",
        "get",
        "/api/v1/namespaces/alpha/promotion-rights/",
        None,
        expect(404, **READERS_OF_ALPHA),
    ),
    (
        "grant staging right",
        "post",
        "/api/v1/namespaces/alpha/promotion-rights/",
        {"username": "maintainer", "environment": "staging"},
        expect(403, owner=201, staff=201, outsider=404),
    ),
    (
        "grant production right",
        "post",
        "/api/v1/namespaces/alpha/promotion-rights/",
        {"team": "alpha", "environment": "production"},
        expect(403, staff=201, outsider=404),
    ),
    (
        "revoke staging right",
        "delete",
        "/api/v1/namespaces/alpha/promotion-rights/",
        {"username": "promoter", "environment": "staging"},
        expect(403, owner=204, staff=204, outsider=404),
    ),
    (
        "list service tokens",
        "get",
        "/api/v1/namespaces/alpha/service-tokens/",
        None,
        expect(403, **OWNER_WRITES),
    ),
    (
        "create service token",
        "post",
        "/api/v1/namespaces/alpha/service-tokens/",
        {"name": "svc"},
        expect(403, owner=201, staff=201, outsider=404),
    ),
    (
        "revoke service token",
        "delete",
        "/api/v1/namespaces/alpha/service-tokens/{svc}/",
        None,
        expect(403, owner=204, staff=204, outsider=404),
    ),
    ("list environments", "get", "/api/v1/environments/", None, expect(200, service=200)),
    ("read environment", "get", "/api/v1/environments/staging/", None, expect(200, service=200)),
    (
        "create environment",
        "post",
        "/api/v1/environments/",
        {"slug": "canary", "name": "Canary", "order": 25},
        STAFF_ONLY_CREATE,
    ),
    (
        "edit environment",
        "patch",
        "/api/v1/environments/staging/",
        {"min_approvals": 2},
        expect(403, staff=200),
    ),
    ("list prompts", "get", "/api/v1/prompts/", None, expect(200, service=200)),
    (
        "create prompt",
        "post",
        "/api/v1/prompts/",
        {"namespace": "alpha", "name": "fresh"},
        expect(403, maintainer=201, owner=201, staff=201, outsider=404),
    ),
    (
        "create prompt in other team's internal namespace",
        "post",
        "/api/v1/prompts/",
        {"namespace": "beta", "name": "fresh"},
        expect(403, outsider=201, staff=201),
    ),
    ("read private prompt", "get", f"{P}/", None, expect(404, service=200, **READERS_OF_ALPHA)),
    (
        "read internal prompt",
        "get",
        "/api/v1/prompts/alpha-open/hello/",
        None,
        expect(200, service=404),
    ),
    (
        "read other namespace's prompt with service token",
        "get",
        "/api/v1/prompts/beta/bprompt/",
        None,
        expect(200, service=404),
    ),
    (
        "edit prompt",
        "patch",
        f"{P}/",
        {"description": "new words"},
        expect(403, maintainer=200, owner=200, staff=200, outsider=404),
    ),
    ("list versions", "get", f"{P}/versions/", None, expect(404, service=200, **READERS_OF_ALPHA)),
    (
        "create version",
        "post",
        f"{P}/versions/",
        {"template": "Hey {{name}}", "variables": ["name"]},
        expect(403, maintainer=201, owner=201, staff=201, outsider=404),
    ),
    (
        "create version in other team's internal namespace",
        "post",
        "/api/v1/prompts/alpha-open/hello/versions/",
        {"template": "Yo", "variables": []},
        expect(403, maintainer=201, owner=201, staff=201),
    ),
    ("read version", "get", f"{P}/versions/1/", None, expect(404, service=200, **READERS_OF_ALPHA)),
    (
        "diff versions",
        "get",
        f"{P}/versions/2/diff/",
        None,
        expect(404, service=200, **READERS_OF_ALPHA),
    ),
    (
        "resolve private prompt",
        "get",
        "/api/v1/resolve/alpha/greet/?version=1",
        None,
        expect(404, service=200, **READERS_OF_ALPHA),
    ),
    (
        "render private prompt",
        "post",
        "/api/v1/resolve/alpha/greet/render/",
        {"version": 2, "variables": {"name": "Ada"}},
        expect(404, service=200, **READERS_OF_ALPHA),
    ),
    (
        "deprecate prompt",
        "post",
        f"{P}/deprecate/",
        {"reason": "Use hello.", "sunset_at": "2099-01-31T23:59:59Z"},
        expect(403, outsider=404, maintainer=200, owner=200, staff=200),
    ),
    (
        "retire prompt early (no sunset)",
        "post",
        f"{P}/retire/",
        {"justification": "Incident 7."},
        expect(403, outsider=404, staff=200),
    ),
    (
        "reactivate an active prompt",
        "post",
        f"{P}/reactivate/",
        {"justification": "Still needed."},
        expect(403, outsider=404, maintainer=409, owner=409, staff=409),
    ),
    ("replace version", "put", f"{P}/versions/1/", {"template": "x"}, expect(405)),
    ("patch version", "patch", f"{P}/versions/1/", {"template": "x"}, expect(405)),
    ("delete version", "delete", f"{P}/versions/1/", None, expect(405)),
]


class _Rollback(Exception):
    pass


def _call_and_roll_back(client, method, url, body):
    """Run one request in a savepoint and undo it, so every caller meets the same world."""
    outcome = {}
    try:
        with transaction.atomic():
            before = snapshot()
            response = getattr(client, method)(url, body, format="json")
            outcome = {"response": response, "changed": snapshot() != before}
            raise _Rollback
    except _Rollback:
        pass
    return outcome["response"], outcome["changed"]


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [pytest.param(*operation[1:], id=operation[0]) for operation in OPERATIONS],
)
def test_permission_matrix(world, method, path, body, expected):
    url = path.format(owner_token=world["owner_token"], svc=world["svc"])
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
        elif method != "get" and not changed and "/render/" not in url:
            mismatches.append(f"{caller}: {method} succeeded but changed nothing")

    assert mismatches == []
