"""Ids from query strings and bodies that Python calls digits but are not ("²"), or that do
not fit a database integer, are refused or ignored: never a 500."""

import pytest

from tests.api.conftest import personal_client
from tests.factories import MembershipFactory, NamespaceFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db

ODD = ("²", "٣", "9" * 30)


@pytest.fixture
def maintainer():
    namespace = NamespaceFactory(slug="shop")
    PromptFactory(namespace=namespace, name="greet")
    user = UserFactory(username="mae")
    MembershipFactory(team=namespace.team, user=user, role="maintainer")
    return user


@pytest.mark.parametrize("odd", ODD)
def test_odd_ids_never_answer_500(client, maintainer, odd):
    api = personal_client(maintainer)
    client.force_login(maintainer)
    answers = [
        api.post(
            "/api/v1/evaluations/",
            {"prompt": "shop/greet", "version": 1, "suite": odd, "model": "local"},
            format="json",
        ),
        api.get("/api/v1/evaluations/", {"suite": odd}),
        api.get("/api/v1/prompts/shop/greet/evaluations/matrix/", {"suite": odd}),
        client.get("/evaluations/compare/", {"a": odd, "b": odd}),
        client.get("/prompts/shop/greet/playground/", {"call": odd}),
    ]
    assert [a.status_code for a in answers if a.status_code >= 500] == []
