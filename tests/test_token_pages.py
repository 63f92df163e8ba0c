"""Token pages: post/redirect/get (a reload never issues a second token or shows the secret
again), a CSP-clean copy button, and one meaning for an expiry date in the form and the API."""

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.staticfiles import finders
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from teams.models import ApiToken
from tests.factories import NamespaceFactory

pytestmark = pytest.mark.django_db

INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)


@pytest.fixture
def owner(namespace, member_of):
    return member_of(namespace, role="owner", username="olga")


def personal_tokens(user) -> int:
    return ApiToken.objects.filter(user=user, kind="personal").count()


def test_reloading_the_personal_token_page_shows_the_secret_once_and_issues_nothing(client, owner):
    client.force_login(owner)
    url = reverse("teams:tokens")

    posted = client.post(url, {"name": "laptop"})
    first = client.get(posted["Location"])
    reload = client.get(posted["Location"])

    secret = first.context["secret"]
    assert posted.status_code == 302
    assert first.content.decode().count(secret) == 1
    assert "no-store" in first["Cache-Control"]
    assert "secret" not in reload.context
    assert secret not in reload.content.decode()
    assert "New token" not in reload.content.decode()
    assert personal_tokens(owner) == 1


def test_two_submissions_issue_two_tokens_each_shown_once(client, owner):
    client.force_login(owner)
    url = reverse("teams:tokens")

    secrets = []
    for name in ("laptop", "ci"):
        posted = client.post(url, {"name": name})
        page = client.get(posted["Location"])
        secrets.append(page.context["secret"])
        assert page.context["created_token"].name == name
        client.get(posted["Location"])

    assert personal_tokens(owner) == 2
    assert secrets[0] != secrets[1]


def test_a_form_error_is_shown_in_place_and_issues_nothing(client, owner):
    client.force_login(owner)

    response = client.post(reverse("teams:tokens"), {"name": ""})

    assert response.status_code == 422
    assert personal_tokens(owner) == 0


def test_reloading_the_namespace_page_shows_a_service_secret_once(client, owner, namespace):
    client.force_login(owner)

    posted = client.post(
        reverse("approvals:service_token_create", args=[namespace.slug]), {"name": "bot"}
    )
    first = client.get(posted["Location"])
    reload = client.get(posted["Location"])

    secret = first.context["secret"]
    assert posted.status_code == 302
    assert first.content.decode().count(secret) == 1
    assert "no-store" in first["Cache-Control"]
    assert secret not in reload.content.decode()
    assert ApiToken.objects.filter(kind="service", namespaces=namespace).count() == 1


def test_the_secret_has_a_copy_button_from_a_static_script_and_no_inline_code(client, owner):
    client.force_login(owner)
    posted = client.post(reverse("teams:tokens"), {"name": "laptop"})

    response = client.get(posted["Location"])
    body = response.content.decode()

    # Without JavaScript: a selectable read-only input; the button appears only with the script.
    assert re.search(r'<input type="text" id="new-token-secret"[^>]*\sreadonly', body)
    button = re.search(r"<button[^>]*data-copy-target=\"new-token-secret\"[^>]*>", body)
    assert button
    assert " hidden" in button.group(0)
    assert 'data-copy-status="new-token-copy-status"' in button.group(0)
    assert re.search(r'<span id="new-token-copy-status" aria-live="polite">', body)
    assert re.search(r'<script src="/static/portal/copy-secret\.js[^"]*" defer></script>', body)
    assert not INLINE_HANDLER.search(body)
    assert not INLINE_SCRIPT.search(body)
    assert not INLINE_STYLE.search(body)
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    script = Path(finders.find("portal/copy-secret.js")).read_text()
    assert "navigator.clipboard.writeText" in script
    assert '"Copied"' in script
    assert "eval(" not in script
    assert "innerHTML" not in script


def test_the_form_states_the_time_zone_of_the_expiry_date(client, owner):
    client.force_login(owner)

    body = client.get(reverse("teams:tokens")).content.decode()
    with override_settings(TIME_ZONE="Europe/Berlin"):
        berlin = client.get(reverse("teams:tokens")).content.decode()

    assert "end of this day (UTC time)" in body
    assert "end of this day (Europe/Berlin time)" in berlin


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Los_Angeles"])
def test_an_api_date_expires_when_the_same_form_date_does(client, owner, zone):
    client.force_login(owner)
    api = APIClient()
    api.force_authenticate(owner)

    with override_settings(TIME_ZONE=zone):
        client.post(reverse("teams:tokens"), {"name": "form", "expires_at": "2031-12-31"})
        answer = api.post("/api/v1/tokens/", {"name": "api", "expires_at": "2031-12-31"}, "json")
        page = client.get(reverse("teams:tokens")).content.decode()

    assert answer.status_code == 201, answer.content
    form_expiry = ApiToken.objects.get(name="form").expiry_date
    api_expiry = ApiToken.objects.get(name="api").expiry_date
    end_of_day = dt.datetime(2032, 1, 1, tzinfo=ZoneInfo(zone))
    assert form_expiry == api_expiry == end_of_day
    assert dt.datetime.fromisoformat(answer.json()["expires_at"]) == end_of_day
    assert page.count(f"end of 2031-12-31 ({zone})") == 2


def test_the_api_still_takes_a_datetime_and_refuses_an_impossible_date(owner):
    api = APIClient()
    api.force_authenticate(owner)

    exact = api.post(
        "/api/v1/tokens/", {"name": "exact", "expires_at": "2031-06-01T12:30:00Z"}, "json"
    )
    impossible = api.post("/api/v1/tokens/", {"name": "bad", "expires_at": "2031-02-30"}, "json")
    past = api.post("/api/v1/tokens/", {"name": "old", "expires_at": "2001-01-01"}, "json")
    last = api.post("/api/v1/tokens/", {"name": "last", "expires_at": "9999-12-31"}, "json")

    assert exact.status_code == 201
    assert ApiToken.objects.get(name="exact").expiry_date == dt.datetime(
        2031, 6, 1, 12, 30, tzinfo=dt.UTC
    )
    assert impossible.status_code in (400, 422)
    assert past.status_code == 422
    assert last.status_code in (400, 422)
    assert not ApiToken.objects.filter(name__in=["bad", "old", "last"]).exists()


def test_the_form_refuses_the_last_day_of_the_calendar(client, owner):
    client.force_login(owner)

    response = client.post(reverse("teams:tokens"), {"name": "last", "expires_at": "9999-12-31"})

    assert response.status_code == 422
    assert "Choose an earlier day." in response.content.decode()
    assert personal_tokens(owner) == 0


def test_the_token_table_shows_an_exact_expiry_with_its_zone(client, owner):
    api = APIClient()
    api.force_authenticate(owner)
    api.post("/api/v1/tokens/", {"name": "exact", "expires_at": "2031-06-01T12:30:00Z"}, "json")
    client.force_login(owner)

    page = client.get(reverse("teams:tokens")).content.decode()

    assert "2031-06-01 12:30 (UTC)" in page


def test_a_personal_token_gets_scopes_and_namespaces_from_the_form_and_shows_them(
    client, owner, namespace
):
    NamespaceFactory(slug="hidden", visibility="private")
    client.force_login(owner)
    url = reverse("teams:tokens")

    form = client.get(url).content.decode()
    posted = client.post(
        url, {"name": "ci", "scopes": ["read", "versions:write"], "namespaces": ["support"]}
    )
    page = client.get(posted["Location"]).content.decode()

    assert 'value="promotions:approve"' in form
    assert 'value="support"' in form
    assert 'value="hidden"' not in form
    token = ApiToken.objects.get(user=owner, name="ci")
    assert token.scopes == ["read", "versions:write"]
    assert [ns.slug for ns in token.namespaces.all()] == ["support"]
    row = re.search(rf'<tr data-token="{token.prefix}">.*?</tr>', page, re.DOTALL).group(0)
    assert "read, versions:write" in row
    assert "in support" in row


def test_the_form_refuses_writing_versions_with_approving(client, owner):
    client.force_login(owner)

    response = client.post(
        reverse("teams:tokens"), {"name": "ci", "scopes": ["versions:write", "promotions:approve"]}
    )

    assert response.status_code == 422
    assert "never goes with" in response.content.decode()
    assert personal_tokens(owner) == 0


def test_a_service_token_is_offered_only_read_and_events(client, owner, namespace):
    client.force_login(owner)
    page_url = reverse("approvals:namespace", args=[namespace.slug])
    create_url = reverse("approvals:service_token_create", args=[namespace.slug])

    form = client.get(page_url).content.decode()
    forged = client.post(create_url, {"name": "bot", "scopes": ["versions:write"]})
    posted = client.post(create_url, {"name": "bot", "scopes": ["events:write"]})
    page = client.get(posted["Location"]).content.decode()

    assert 'value="events:write"' in form
    assert 'value="read"' in form
    assert 'value="versions:write"' not in form
    assert forged.status_code == 422
    token = ApiToken.objects.get(kind="service")
    assert token.scopes == ["events:write"]
    row = re.search(rf'<tr data-token="{token.prefix}">.*?</tr>', page, re.DOTALL).group(0)
    assert "events:write" in row
    assert "no scopes" not in row
