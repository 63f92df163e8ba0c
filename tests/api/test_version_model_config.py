"""POST …/versions/: without model_config (absent or null) a version keeps the parent's; {}
clears it."""

import pytest

from prompts.models import PromptVersion
from tests.api.conftest import personal_client
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(namespace):
    user = UserFactory(username="olivia")
    MembershipFactory(team=namespace.team, user=user, role="maintainer")
    return personal_client(user)


def _url(prompt) -> str:
    return f"/api/v1/prompts/{prompt.full_name}/versions/"


def _first(client, prompt) -> None:
    response = client.post(
        _url(prompt),
        {"template": "Hi {{x}}", "variables": ["x"], "model_config": {"model": "gpt-4o"}},
        format="json",
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("body", [{}, {"model_config": None}], ids=["absent", "null"])
def test_a_version_without_model_config_inherits_the_parents(client, prompt, body):
    _first(client, prompt)

    response = client.post(
        _url(prompt), {"template": "Hello {{x}}", "variables": ["x"], **body}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["model_config"] == {"model": "gpt-4o"}
    assert PromptVersion.objects.get(prompt=prompt, number=2).model_config == {"model": "gpt-4o"}


def test_an_empty_model_config_clears_it(client, prompt):
    _first(client, prompt)

    response = client.post(
        _url(prompt),
        {"template": "Hello {{x}}", "variables": ["x"], "model_config": {}},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["model_config"] == {}
    assert PromptVersion.objects.get(prompt=prompt, number=2).model_config == {}


def test_a_first_version_without_model_config_has_none(client, prompt):
    response = client.post(
        _url(prompt), {"template": "Hi {{x}}", "variables": ["x"]}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["model_config"] == {}
