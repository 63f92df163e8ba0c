"""What staff used to do in the admin, now through services: environments and people's access."""

import pytest
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEntry
from prompts.models import Environment
from tests.api.conftest import personal_client, problem
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def _production() -> Environment:
    return Environment.objects.get(slug="production")


def _settings(environment: Environment, **changes) -> dict:
    data = {
        "name": environment.name,
        "order": environment.order,
        "requires_approval": "on" if environment.requires_approval else "",
        "min_approvals": environment.min_approvals,
        "protected": "on" if environment.protected else "",
        "requires_evaluation": "on" if environment.requires_evaluation else "",
    }
    return {key: value for key, value in (data | changes).items() if value != ""}


# --- Environments -----------------------------------------------------------------------------


def test_everyone_sees_the_environments_and_only_staff_get_the_forms(client, staff, environments):
    viewer = UserFactory(username="vic")
    client.force_login(viewer)
    as_viewer = client.get(reverse("prompts:environments"))
    client.force_login(staff)
    as_staff = client.get(reverse("prompts:environments"))

    assert as_viewer.status_code == as_staff.status_code == 200
    assert "2 approvals" in as_viewer.content.decode()
    assert "Save production" not in as_viewer.content.decode()
    assert "Save production" in as_staff.content.decode()
    assert "Create environment" in as_staff.content.decode()


def test_staff_change_an_environment_through_the_service_and_it_is_audited(staff_client):
    url = reverse("prompts:environment_update", args=["production"])

    response = staff_client.post(url, _settings(_production(), min_approvals=3, name="Prod"))

    assert response.status_code == 302
    production = _production()
    assert (production.name, production.min_approvals) == ("Prod", 3)
    entry = AuditEntry.objects.get(action="environment.changed", object_id="production")
    assert entry.actor == "staff-user"
    assert entry.before["min_approvals"] == 2
    assert entry.after["min_approvals"] == 3


def test_an_inconsistent_environment_is_a_form_error_and_changes_nothing(staff_client):
    url = reverse("prompts:environment_update", args=["production"])

    unticked = staff_client.post(url, _settings(_production(), requires_approval=""))
    clash = staff_client.post(url, _settings(_production(), order=10))

    assert unticked.status_code == 422
    assert "needs at least one approval" in unticked.content.decode()
    assert clash.status_code == 422
    production = _production()
    assert (production.requires_approval, production.min_approvals, production.order) == (
        True,
        2,
        30,
    )
    assert not AuditEntry.objects.filter(action="environment.changed").exists()


def test_people_who_are_not_staff_may_not_configure_environments(client, environments):
    client.force_login(UserFactory(username="max"))

    update = client.post(
        reverse("prompts:environment_update", args=["production"]),
        _settings(_production(), requires_approval="", min_approvals=0),
    )
    create = client.post(
        reverse("prompts:environment_create"),
        {"slug": "canary", "name": "Canary", "order": 40, "min_approvals": 0},
    )

    assert update.status_code == create.status_code == 403
    assert _production().requires_approval
    assert not Environment.objects.filter(slug="canary").exists()


def test_staff_create_an_environment(staff_client):
    response = staff_client.post(
        reverse("prompts:environment_create"),
        {
            "slug": "canary",
            "name": "Canary",
            "order": 40,
            "requires_approval": "on",
            "min_approvals": 1,
        },
    )

    assert response.status_code == 302
    canary = Environment.objects.get(slug="canary")
    assert (canary.requires_approval, canary.min_approvals) == (True, 1)
    assert AuditEntry.objects.filter(action="environment.created", object_id="canary").exists()


# --- People -----------------------------------------------------------------------------------


def _change(client, username: str, change: str):
    return client.post(reverse("teams:person_update", args=[username]), {"change": change})


def test_only_staff_see_the_people_page(staff_client):
    other = Client()
    other.force_login(UserFactory(username="pat"))
    refused = other.get(reverse("teams:people"))
    shown = staff_client.get(reverse("teams:people"), {"q": "pat"})

    assert refused.status_code == 403
    assert shown.status_code == 200
    assert 'data-username="pat"' in shown.content.decode()


def test_deactivating_someone_is_audited_and_their_token_stops_at_once(staff_client):
    leaver = UserFactory(username="lee")
    api = personal_client(leaver)
    assert api.get("/api/v1/teams/").status_code == 200

    response = _change(staff_client, "lee", "deactivate")

    leaver.refresh_from_db()
    assert response.status_code == 302
    assert not leaver.is_active
    entry = AuditEntry.objects.get(action="user.deactivated", object_id="lee")
    assert (entry.before["is_active"], entry.after["is_active"]) == (True, False)
    assert api.get("/api/v1/teams/").status_code == 401


def test_staff_make_someone_an_auditor_and_take_it_back(staff_client):
    person = UserFactory(username="aud")
    api = personal_client(person)

    assert api.get("/api/v1/audit/").status_code == 403
    _change(staff_client, "aud", "make_auditor")
    assert api.get("/api/v1/audit/").status_code == 200
    _change(staff_client, "aud", "remove_auditor")
    assert api.get("/api/v1/audit/").status_code == 403
    actions = list(
        AuditEntry.objects.filter(object_id="aud").values_list("action", "after__is_auditor")
    )
    assert actions == [("user.changed", True), ("user.changed", False)]


def test_nobody_changes_their_own_access(staff_client, staff):
    response = _change(staff_client, staff.username, "remove_staff")

    staff.refresh_from_db()
    assert response.status_code == 302
    assert staff.is_staff
    page = staff_client.get(response["Location"]).content.decode()
    assert "cannot change your own access" in page


def test_the_users_api_changes_access_for_staff_only(staff):
    person = UserFactory(username="ann")
    outsider = UserFactory(username="out")

    refused = personal_client(outsider).patch(
        "/api/v1/users/ann/", {"is_staff": True}, format="json"
    )
    changed = personal_client(staff).patch(
        "/api/v1/users/ann/", {"is_active": False, "is_auditor": True}, format="json"
    )
    own = personal_client(staff).patch(
        f"/api/v1/users/{staff.username}/", {"is_active": False}, format="json"
    )

    assert refused.status_code == 403
    assert changed.status_code == 200
    assert changed.json()["is_active"] is False
    assert changed.json()["is_auditor"] is True
    assert problem(own)["code"] == "self_deactivation"
    person.refresh_from_db()
    assert not person.is_active
    assert not person.is_staff
