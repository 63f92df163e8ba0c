"""The permission matrix of the Langfuse prompt API (/api/public/v2/prompts…), with HTTP Basic
as the SDK sends it: who reads, who writes versions, who sets labels; refusals change nothing.
Also the SDK's auth check (/api/public/projects) and Basic credentials that do not match.

Team `support` (owner olive, maintainer max, viewer vera) owns the private namespace
`support` with `refund-reply` (v1 in production, v2 in development); team `search` (member
sam) owns `search`.
"""

import base64

import pytest
from rest_framework.test import APIClient

from approvals.models import PromotionRequest
from prompts.models import Deployment, Environment, Prompt, PromptVersion
from prompts.services import deployment_set, version_create
from teams import scopes
from teams.tokens import personal_token_create, service_token_create
from tests.factories import (
    MembershipFactory,
    NamespaceFactory,
    PromptFactory,
    TeamFactory,
    UserFactory,
    system_actor,
)

pytestmark = pytest.mark.django_db

BASE = "/api/public/v2/prompts"
GET = f"{BASE}/support%2Frefund-reply"
LIST = f"{BASE}?name=support/refund-reply"
CREATE = {"name": "support/refund-reply", "prompt": "New {{customer}}", "labels": []}
CREATE_LABELLED = {**CREATE, "labels": ["development"]}
PATCH = f"{BASE}/support%2Frefund-reply/versions/2"
LABELS = {"newLabels": ["staging"]}


def basic(token, secret) -> APIClient:
    client = APIClient()
    encoded = base64.b64encode(f"{token.prefix}:{secret}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {encoded}")
    return client


class World:
    def __init__(self):
        self.admin = system_actor()
        support, search = TeamFactory(slug="support"), TeamFactory(slug="search")
        self.users = {
            name: UserFactory(username=name, is_staff=name == "stella")
            for name in ("olive", "max", "vera", "sam", "stella")
        }
        for name, team, role in (
            ("olive", support, "owner"),
            ("max", support, "maintainer"),
            ("vera", support, "viewer"),
            ("sam", search, "maintainer"),
        ):
            MembershipFactory(team=team, user=self.users[name], role=role)
        self.support = NamespaceFactory(slug="support", team=support, visibility="private")
        self.search = NamespaceFactory(slug="search", team=search, visibility="private")
        self.prompt = PromptFactory(namespace=self.support, name="refund-reply")
        for text in ("Hello {{customer}}", "Hi {{customer}}"):
            version_create(
                prompt=self.prompt, author=self.admin, template=text, variables=["customer"]
            )
        for environment, number in (("production", 1), ("development", 2)):
            deployment_set(
                prompt=self.prompt,
                environment=Environment.objects.get(slug=environment),
                version=self.prompt.versions.get(number=number),
                actor=self.admin,
                action="deployment.seeded",
            )

    def person(self, name, **kwargs) -> APIClient:
        return basic(*personal_token_create(actor=self.users[name], name="lf", **kwargs))

    def service(self, namespace) -> APIClient:
        return basic(*service_token_create(actor=self.admin, namespaces=[namespace], name="svc"))


def snapshot() -> tuple:
    return (
        PromptVersion.objects.count(),
        Prompt.objects.count(),
        sorted(Deployment.objects.values_list("environment__slug", "version__number")),
        PromotionRequest.objects.count(),
    )


@pytest.fixture
def world():
    return World()


def caller(world, who) -> APIClient:
    return {
        "anonymous": lambda: APIClient(),
        "service-own": lambda: world.service(world.support),
        "service-other": lambda: world.service(world.search),
        "read-only": lambda: world.person("max", scopes=[scopes.READ]),
        "versions-only": lambda: world.person("max", scopes=[scopes.VERSIONS_WRITE]),
    }.get(who, lambda: world.person(who))()


READS = {
    "anonymous": 401,
    "vera": 200,
    "sam": 404,
    "max": 200,
    "olive": 200,
    "stella": 200,
    "service-own": 200,
    "service-other": 404,
    "read-only": 200,
}


@pytest.mark.parametrize(("who", "expected"), READS.items())
def test_reading_a_prompt(world, who, expected):
    response = caller(world, who).get(GET)

    assert response.status_code == expected, response.content
    assert response["Content-Type"].endswith("json")
    if expected == 200:
        assert response.json()["version"] == 1


@pytest.mark.parametrize(("who", "expected"), READS.items())
def test_listing_shows_only_what_the_caller_may_read(world, who, expected):
    response = caller(world, who).get(LIST)

    if expected == 401:
        assert response.status_code == 401
        return
    assert response.status_code == 200
    names = [item["name"] for item in response.json()["data"]]
    assert names == (["support/refund-reply"] if expected == 200 else [])


WRITES = {
    "anonymous": 401,
    "vera": 403,
    "sam": 404,
    "max": 201,
    "olive": 201,
    "stella": 201,
    "service-own": 403,
    "service-other": 403,
    "read-only": 403,
    "versions-only": 201,
}


@pytest.mark.parametrize(("who", "expected"), WRITES.items())
def test_creating_a_version(world, who, expected):
    before = snapshot()

    response = caller(world, who).post(BASE, CREATE, format="json")

    assert response.status_code == expected, response.content
    if expected == 201:
        assert response.json()["version"] == 3
    else:
        assert snapshot() == before


LABELLED = {**WRITES, "versions-only": 403}


@pytest.mark.parametrize(("who", "expected"), LABELLED.items())
def test_creating_a_version_with_a_label(world, who, expected):
    before = snapshot()

    response = caller(world, who).post(BASE, CREATE_LABELLED, format="json")

    assert response.status_code == expected, response.content
    if expected == 201:
        assert "development" in response.json()["labels"]
    else:
        assert snapshot() == before


PATCHES = {**WRITES, "max": 200, "olive": 200, "stella": 200, "versions-only": 403}


@pytest.mark.parametrize(("who", "expected"), PATCHES.items())
def test_setting_labels(world, who, expected):
    before = snapshot()

    response = caller(world, who).patch(PATCH, LABELS, format="json")

    assert response.status_code == expected, response.content
    if expected == 200:
        (pending,) = response.json()["promotionRequests"]
        assert pending["environment"] == "staging"
        assert response["X-Portal-Promotion-Requests"] == pending["url"]
        assert (
            sorted(Deployment.objects.values_list("environment__slug", "version__number"))
            == (before[2])
        )
    else:
        assert snapshot() == before


def test_a_promotions_only_token_may_set_labels_but_not_create(world):
    client = world.person("max", scopes=[scopes.PROMOTIONS_REQUEST])
    before = snapshot()

    assert client.post(BASE, CREATE, format="json").status_code == 403
    assert snapshot() == before
    assert client.patch(PATCH, {"newLabels": ["development"]}, format="json").status_code == 200


PROJECTS = {
    "anonymous": 401,
    "vera": 200,
    "sam": 200,
    "stella": 200,
    "service-own": 200,
    "service-other": 200,
    "read-only": 200,
    "versions-only": 403,  # every GET needs the `read` scope (teams.scopes.scope_of)
}


@pytest.mark.parametrize(("who", "expected"), PROJECTS.items())
def test_the_auth_check_answers_any_valid_token(world, who, expected):
    response = caller(world, who).get("/api/public/projects")

    assert response.status_code == expected, response.content
    assert response["Content-Type"].endswith("json")
    if expected == 200:
        assert [project["id"] for project in response.json()["data"]] == ["prompt-portal"]
    else:
        error = {401: "UnauthorizedError", 403: "ForbiddenError"}[expected]
        assert response.json()["error"] == error


@pytest.mark.parametrize(
    "query", ["?label=latest", "?label=production", "?version=1", "?version=9", "?label=nowhere"]
)
def test_a_private_prompt_answers_as_a_missing_one(world, query):
    client = world.person("sam")

    hidden = client.get(f"{BASE}/support%2Frefund-reply{query}")
    missing = client.get(f"{BASE}/support%2Fno-such-one{query}")

    assert hidden.status_code == missing.status_code == 404
    assert hidden.content.replace(b"refund-reply", b"no-such-one") == missing.content


@pytest.fixture
def internal(world):
    """An internal namespace `open` of team search (everyone reads `open/hello`)."""
    namespace = NamespaceFactory(slug="open", team=world.search.team, visibility="internal")
    hello = PromptFactory(namespace=namespace, name="hello")
    version = version_create(prompt=hello, author=world.admin, template="Hello", variables=[])
    deployment_set(
        prompt=hello,
        environment=Environment.objects.get(slug="production"),
        version=version,
        actor=world.admin,
        action="deployment.seeded",
    )
    return namespace


@pytest.mark.parametrize(
    ("limit", "name"), [("open", "support/refund-reply"), ("support", "open/hello")]
)
def test_a_token_limited_to_another_namespace_reads_nothing_else(world, internal, limit, name):
    namespace = {"open": internal, "support": world.support}[limit]
    person = world.person("max")
    limited = world.person("max", scopes=[scopes.READ], namespaces=[namespace])
    encoded = name.replace("/", "%2F")

    assert person.get(f"{BASE}/{encoded}").status_code == 200
    response = limited.get(f"{BASE}/{encoded}")
    assert response.status_code == 404, response.content
    assert response.json()["error"] == "LangfuseNotFoundError"
    listed = [item["name"] for item in limited.get(BASE).json()["data"]]
    assert name not in listed
    assert listed == [item for item in listed if item.startswith(f"{limit}/")]
    assert limited.get(f"{BASE}?name={name}").json()["data"] == []


def test_basic_with_the_right_secret_under_another_prefix_is_refused(world):
    token, secret = personal_token_create(actor=world.users["max"], name="lf")
    other, _ = personal_token_create(actor=world.users["olive"], name="lf")
    assert basic(token, secret).get(GET).status_code == 200
    client = APIClient()
    for username in (other.prefix, "pk-lf-1234", ""):
        encoded = base64.b64encode(f"{username}:{secret}".encode()).decode()
        client.credentials(HTTP_AUTHORIZATION=f"Basic {encoded}")

        response = client.get(GET)

        assert response.status_code == 401, (username, response.content)
        assert response.json()["error"] == "UnauthorizedError"


@pytest.mark.parametrize("credentials", ["!!!not-base64", "bWF4", "//79/g==", "YQ"])
def test_basic_with_malformed_credentials_is_refused(world, credentials):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {credentials}")

    response = client.get(GET)

    assert response.status_code == 401, response.content
    assert response["Content-Type"].endswith("json")
    assert response.json()["error"] == "UnauthorizedError"
