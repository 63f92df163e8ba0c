"""No request body makes the API answer 500: arbitrary JSON at every write endpoint."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prompts.services import version_create
from tests.api.conftest import personal_client
from tests.factories import MembershipFactory, NamespaceFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "username",
    "password",
    "email",
    "is_staff",
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
]
bodies = json_values | st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6)

WRITES = [
    ("post", "/api/v1/users/"),
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
    ("post", "/api/v1/prompts/fuzz/chat/versions/"),
]


@pytest.fixture
def fuzz_client(db):
    user = UserFactory(username="fuzzer", is_staff=True)
    namespace = NamespaceFactory(slug="fuzz", team__slug="fuzz-team")
    MembershipFactory(team=namespace.team, user=user, role="owner")
    text = PromptFactory(namespace=namespace, name="text")
    version_create(prompt=text, author=user, template="Hi {{name}}", variables=["name"])
    PromptFactory(namespace=namespace, name="chat", kind="chat")
    return personal_client(user)


@pytest.mark.parametrize(("method", "url"), WRITES)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
def test_arbitrary_json_never_causes_a_server_error(fuzz_client, method, url, body):
    response = getattr(fuzz_client, method)(url, body, format="json")

    assert response.status_code < 500, (body, response.content)
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"


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
