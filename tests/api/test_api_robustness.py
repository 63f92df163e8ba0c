"""No request body makes the API answer 500: arbitrary JSON, deep structures and arbitrary
unicode (lone surrogates included) at every write endpoint and at render."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from approvals.services import promotion_request
from prompts.models import Environment
from prompts.services import deployment_set, version_create
from tests.api.conftest import personal_client
from tests.factories import MembershipFactory, NamespaceFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db

# Any code point, surrogates too: JSON carries them as \ud800 escapes, which decode to a str
# that no UTF-8 encoder, text column or hash accepts.
any_text = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=40)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text
)


def _nest(depth: int, leaf, as_object: bool):
    for _ in range(depth):
        leaf = {"k": leaf} if as_object else [leaf]
    return leaf


deep_values = st.builds(_nest, st.integers(20, 600), json_scalars, st.booleans())
json_values = (
    st.recursive(
        json_scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4)
        ),
        max_leaves=12,
    )
    | deep_values
)
FIELDS = [
    "username",
    "password",
    "email",
    "is_staff",
    "is_active",
    "is_auditor",
    "name",
    "slug",
    "team",
    "description",
    "visibility",
    "role",
    "environment",
    "namespace",
    "kind",
    "tags",
    "template",
    "messages",
    "template_format",
    "variables",
    "model_config",
    "message",
    "expires_at",
    "order",
    "min_approvals",
    "requires_approval",
    "namespaces",
    "prompt",
    "version",
    "justification",
    "comment",
    "user",
    "override_order",
    "subject",
]
bodies = json_values | st.dictionaries(st.sampled_from(FIELDS) | any_text, json_values, max_size=6)

WRITES = [
    ("post", "/api/v1/users/"),
    ("patch", "/api/v1/users/fuzz-other/"),
    ("post", "/api/v1/tokens/"),
    ("post", "/api/v1/teams/"),
    ("patch", "/api/v1/teams/fuzz-team/"),
    ("post", "/api/v1/teams/fuzz-team/members/"),
    ("patch", "/api/v1/teams/fuzz-team/members/fuzzer/"),
    ("post", "/api/v1/namespaces/"),
    ("patch", "/api/v1/namespaces/fuzz/"),
    ("post", "/api/v1/namespaces/fuzz/promotion-rights/"),
    ("delete", "/api/v1/namespaces/fuzz/promotion-rights/"),
    ("post", "/api/v1/namespaces/fuzz/service-tokens/"),
    ("post", "/api/v1/environments/"),
    ("patch", "/api/v1/environments/staging/"),
    ("post", "/api/v1/prompts/"),
    ("patch", "/api/v1/prompts/fuzz/text/"),
    ("post", "/api/v1/prompts/fuzz/text/versions/"),
    ("post", "/api/v1/prompts/fuzz/jinja/versions/"),
    ("post", "/api/v1/prompts/fuzz/chat/versions/"),
    ("post", "/api/v1/prompts/fuzz/text/rollback/"),
    ("post", "/api/v1/promotions/"),
    ("post", "/api/v1/promotions/{pending}/approve/"),
    ("post", "/api/v1/promotions/{pending}/reject/"),
    ("post", "/api/v1/promotions/{pending}/cancel/"),
    ("post", "/api/v1/resolve/fuzz/text/render/"),
    ("post", "/api/v1/resolve/fuzz/jinja/render/"),
]


@pytest.fixture
def fuzz_client(db):
    user = UserFactory(username="fuzzer", is_staff=True)
    UserFactory(username="fuzz-other")
    namespace = NamespaceFactory(slug="fuzz", team__slug="fuzz-team")
    MembershipFactory(team=namespace.team, user=user, role="owner")
    production = Environment.objects.get(slug="production")
    for name, template_format, template in (
        ("text", "mustache", "Hi {{name}}"),
        ("jinja", "jinja2", "Hi {{ name }}{% for x in items %}{{ x }}{% endfor %}"),
    ):
        prompt = PromptFactory(namespace=namespace, name=name)
        variables = ["name"] if name == "text" else ["items", "name"]
        version = version_create(
            prompt=prompt,
            author=user,
            template=template,
            template_format=template_format,
            variables=variables,
        )
        deployment_set(
            prompt=prompt,
            environment=production,
            version=version,
            actor=user,
            action="deployment.seeded",
        )
    text = prompt.namespace.prompts.get(name="text")
    second = version_create(prompt=text, author=user, template="Hey {{name}}", variables=["name"])
    pending = promotion_request(
        actor=user,
        prompt=text,
        version=second,
        environment=Environment.objects.get(slug="development"),
        justification="fuzz",
    )
    PromptFactory(namespace=namespace, name="chat", kind="chat")
    client = personal_client(user)
    client.pending = pending.pk
    return client


@pytest.mark.parametrize(("method", "url"), WRITES)
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
def test_arbitrary_json_never_causes_a_server_error(fuzz_client, method, url, body):
    # Encoded here (ASCII, surrogates as escapes) because the test client's encoder refuses them.
    payload = json.dumps(body, ensure_ascii=True)
    url = url.format(pending=fuzz_client.pending)

    response = getattr(fuzz_client, method)(url, payload, content_type="application/json")

    assert response.status_code < 500, (body, response.content)
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(variables=st.dictionaries(st.sampled_from(["name", "items"]) | any_text, json_values))
def test_render_with_any_variables_never_causes_a_server_error(fuzz_client, variables):
    for prompt in ("text", "jinja"):
        response = fuzz_client.post(
            f"/api/v1/resolve/fuzz/{prompt}/render/",
            json.dumps({"variables": variables}, ensure_ascii=True),
            content_type="application/json",
        )

        assert response.status_code < 500, (variables, response.content)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tokens/%00/",
        "/api/v1/teams/fuzz-team/members/%00x/",
        "/api/v1/namespaces/fuzz/service-tokens/a%00b/",
        "/api/v1/prompts/fuzz/text/versions/99999999999999999999999/",
        "/api/v1/prompts/fuzz/text/versions/1/diff/?against=99999999999999999999",
        "/api/v1/prompts/?q=%00",
        "/api/v1/prompts/?namespace=" + "a" * 5000,
        "/api/v1/prompts/?page=-1&page_size=abc",
        "/api/v1/namespaces/fuzz/promotion-rights/?environment=%00",
    ],
)
def test_odd_paths_and_queries_never_cause_a_server_error(fuzz_client, path):
    for method in ("get", "delete"):
        response = getattr(fuzz_client, method)(path)

        assert response.status_code < 500, (method, response.content)


def test_nul_characters_in_bodies_are_refused_clearly(fuzz_client):
    response = fuzz_client.post(
        "/api/v1/prompts/", {"namespace": "fuzz", "name": "x\x00y"}, format="json"
    )

    assert response.status_code == 422
    assert "NUL" in response.json()["detail"]
