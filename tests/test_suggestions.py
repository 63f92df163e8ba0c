"""Autocomplete of the user and team fields: the member and promotion-right forms ask the
suggestion views as one types (htmx fills the field's datalist)."""

import pytest
from django.urls import reverse

from tests.factories import MembershipFactory, NamespaceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def options(response) -> list[str]:
    assert response.status_code == 200
    return [
        line.split('value="')[1].split('"')[0]
        for line in response.content.decode().splitlines()
        if "<option" in line
    ]


@pytest.fixture
def owner(db):
    user = UserFactory(username="zed")
    MembershipFactory(team=TeamFactory(slug="zeds"), user=user, role="owner")
    return user


def test_users_are_suggested_by_username_or_name_and_only_active_ones(client, owner):
    UserFactory(username="alice")
    UserFactory(username="bob", first_name="Alicia")
    UserFactory(username="alfred", is_active=False)
    UserFactory(username="carol")
    client.force_login(owner)

    response = client.get(reverse("teams:suggest_users"), {"username": "ali"})

    assert options(response) == ["alice", "bob"]
    assert "Alicia" in response.content.decode()


def test_team_suggestions_match_slug_or_name(client):
    TeamFactory(slug="payments", name="Payments")
    TeamFactory(slug="search", name="Search ranking")
    client.force_login(UserFactory())

    assert options(client.get(reverse("teams:suggest_teams"), {"team": "rank"})) == ["search"]
    assert options(client.get(reverse("teams:suggest_teams"), {"team": "pay"})) == ["payments"]


def test_suggestions_are_capped_and_empty_for_an_empty_query(client, owner):
    for index in range(15):
        UserFactory(username=f"user{index:02d}")
    client.force_login(owner)

    assert len(options(client.get(reverse("teams:suggest_users"), {"q": "user"}))) == 10
    assert options(client.get(reverse("teams:suggest_users"), {"q": ""})) == []
    assert options(client.get(reverse("teams:suggest_users"), {"q": "\x00"})) == []


@pytest.mark.parametrize("role", ["viewer", "maintainer"])
def test_people_are_suggested_only_to_team_owners_and_staff(client, namespace, member_of, role):
    UserFactory(username="alice", first_name="Alice")
    client.force_login(member_of(namespace, role=role))

    assert options(client.get(reverse("teams:suggest_users"), {"q": "ali"})) == []
    client.force_login(UserFactory(is_staff=True))
    assert options(client.get(reverse("teams:suggest_users"), {"q": "ali"})) == ["alice"]


def test_signed_out_suggestions_are_empty_not_the_sign_in_page(client):
    UserFactory(username="alice")

    for name in ("teams:suggest_users", "teams:suggest_teams"):
        response = client.get(reverse(name), {"q": "a"})
        assert response.status_code == 204
        assert response.content == b""


def test_the_member_and_right_forms_ask_for_suggestions(client, namespace, member_of):
    owner = member_of(namespace, role="owner", username="olga")
    client.force_login(owner)

    team_page = client.get(reverse("teams:team", args=[namespace.team.slug])).content.decode()
    namespace_page = client.get(
        reverse("approvals:namespace", args=[namespace.slug])
    ).content.decode()

    assert f'hx-get="{reverse("teams:suggest_users")}"' in team_page
    assert 'list="member_username-suggestions"' in team_page
    assert '<datalist id="member_username-suggestions"></datalist>' in team_page
    assert f'hx-get="{reverse("teams:suggest_teams")}"' in namespace_page


def test_team_page_links_to_each_namespaces_rights_tokens_and_prompts(client, namespace):
    NamespaceFactory(slug="billing", team=namespace.team)
    client.force_login(UserFactory())

    body = client.get(reverse("teams:team", args=[namespace.team.slug])).content.decode()

    for slug in ("support", "billing"):
        assert f'href="/namespaces/{slug}/#promotion-rights"' in body
        assert f'href="/namespaces/{slug}/#service-tokens"' in body
        assert f'href="/?namespace={slug}"' in body
