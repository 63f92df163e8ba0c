"""Who owns this? A team's contact (e-mail, chat channel), namespaces listed by team, and the
namespace's stale-prompt settings: through the services, the API and the portal."""

import pytest
from django.urls import reverse

from portal.audit.models import AuditEntry
from teams.models import Namespace, Team
from tests.api.conftest import personal_client, service_client
from tests.factories import NamespaceFactory, UserFactory, system_actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(namespace, member_of):
    return member_of(namespace, role="owner", username="olga")


def test_an_owner_sets_the_team_contact_and_it_is_audited(owner, namespace):
    response = personal_client(owner).patch(
        f"/api/v1/teams/{namespace.team.slug}/",
        {"contact_email": "prompts@example.com", "contact_channel": " #support-prompts "},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["contact_email"] == "prompts@example.com"
    assert response.json()["contact_channel"] == "#support-prompts"
    entry = AuditEntry.objects.get(action="team.changed")
    assert entry.before["contact_email"] == ""
    assert entry.after["contact_channel"] == "#support-prompts"


@pytest.mark.parametrize("role", ["viewer", "maintainer"])
def test_only_owners_and_staff_change_the_contact(namespace, member_of, role):
    response = personal_client(member_of(namespace, role=role)).patch(
        f"/api/v1/teams/{namespace.team.slug}/", {"contact_email": "x@example.com"}, format="json"
    )

    assert response.status_code == 403
    assert Team.objects.get(pk=namespace.team.pk).contact_email == ""


def test_a_bad_contact_email_is_a_field_error(owner, namespace):
    response = personal_client(owner).patch(
        f"/api/v1/teams/{namespace.team.slug}/", {"contact_email": "not-an-address"}, format="json"
    )

    assert response.status_code == 422
    assert "contact_email" in response.json()["errors"]


def test_namespaces_are_listed_by_team_and_private_ones_stay_hidden(namespace, member_of):
    NamespaceFactory(slug="billing", team=namespace.team)
    other = NamespaceFactory(slug="growth")
    NamespaceFactory(slug="growth-secret", team=other.team, visibility="private")
    client = personal_client(member_of(namespace, role="viewer"))

    def slugs(team: str) -> list[str]:
        response = client.get("/api/v1/namespaces/", {"team": team})
        assert response.status_code == 200
        return [row["slug"] for row in response.json()["results"]]

    assert slugs(namespace.team.slug) == ["billing", "support"]
    assert slugs(other.team.slug) == ["growth"]
    assert slugs("no-such-team") == []


def test_owners_set_the_stale_settings_within_range(owner, namespace):
    client = personal_client(owner)

    ok = client.patch(
        f"/api/v1/namespaces/{namespace.slug}/",
        {"stale_after_days": 30, "auto_retire": True},
        format="json",
    )
    too_long = client.patch(
        f"/api/v1/namespaces/{namespace.slug}/", {"stale_after_days": 4000}, format="json"
    )

    assert ok.status_code == 200, ok.content
    assert (ok.json()["stale_after_days"], ok.json()["auto_retire"]) == (30, True)
    assert too_long.status_code == 422
    namespace.refresh_from_db()
    assert (namespace.stale_after_days, namespace.auto_retire) == (30, True)
    entry = AuditEntry.objects.filter(action="namespace.changed").latest("id")
    assert entry.before["stale_after_days"] == 90
    assert entry.after["auto_retire"] is True


def test_a_service_token_cannot_change_the_settings(namespace):
    client = service_client(actor=system_actor(), namespaces=[namespace])

    response = client.patch(
        f"/api/v1/namespaces/{namespace.slug}/", {"auto_retire": True}, format="json"
    )

    assert response.status_code == 403
    assert Namespace.objects.get(pk=namespace.pk).auto_retire is False


def test_the_portal_forms_change_contact_and_settings(client, owner, namespace):
    client.force_login(owner)

    team = client.post(
        reverse("teams:team_update", args=[namespace.team.slug]),
        {"name": namespace.team.name, "contact_email": "help@example.com", "contact_channel": ""},
    )
    settings = client.post(
        reverse("approvals:namespace_update", args=[namespace.slug]),
        {"description": "", "visibility": "internal", "stale_after_days": "0"},
    )

    assert team.status_code == 302
    page = client.get(reverse("teams:team", args=[namespace.team.slug])).content.decode()
    assert '<a href="mailto:help@example.com">help@example.com</a>' in page
    assert settings.status_code == 422
    assert "Ensure this value is greater than or equal to 1." in settings.content.decode()
    namespace_page = client.get(reverse("approvals:namespace", args=[namespace.slug]))
    body = namespace_page.content.decode()
    assert "90 days without a new version or deployment change" in body
    assert "help@example.com" in body


def test_someone_without_a_team_sees_the_contact_but_no_edit_hint(client, namespace, owner):
    Team.objects.filter(pk=namespace.team.pk).update(contact_channel="#support")
    client.force_login(UserFactory())

    page = client.get(reverse("teams:team", args=[namespace.team.slug])).content.decode()

    assert '<span class="channel">#support</span>' in page
    assert "Edit team details" not in page
