"""The portal's notification pages through real URLs: inbox, badge, mark read, settings, and
for team owners the webhooks section, delivery log and the record of what was sent."""

import pytest
from django.test import Client

from teams.notifications import events
from teams.notifications.models import Notification, Preference, Webhook
from teams.notifications.services import notify
from teams.notifications.webhooks import webhook_create

pytestmark = pytest.mark.django_db


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner(people):
    return client_of(people["owner"])


def test_the_header_badge_counts_unread(people, owner):
    notify(event=events.PROMPT_RETIRED, subject="Retired", users=[people["owner"]])

    page = owner.get("/").content.decode()
    badge = owner.get("/notifications/count/")

    assert 'id="notifications-count"' in page
    assert 'hx-get="/notifications/count/"' in page
    assert badge.status_code == 200
    assert '<span id="notifications-count">' in badge.content.decode()
    assert ">1<" in badge.content.decode()
    assert Client().get("/notifications/count/").status_code == 204


def test_the_inbox_lists_newest_first_and_marks_read_without_javascript(people, owner):
    first, second = (
        notify(event=events.PROMPT_RETIRED, subject=f"Note {n}", users=[people["owner"]])[0]
        for n in (1, 2)
    )
    notify(event=events.PROMPT_RETIRED, subject="Not yours", users=[people["viewer"]])

    page = owner.get("/notifications/").content.decode()
    read = owner.post(f"/notifications/{first.pk}/read/", {"next": "/notifications/"})

    assert page.index("Note 2") < page.index("Note 1")
    assert "Not yours" not in page
    assert read.status_code == 302
    assert read["Location"] == "/notifications/"
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None


def test_mark_all_read_and_no_csrf_no_change(people, owner):
    notify(event=events.PROMPT_RETIRED, subject="One", users=[people["owner"]])
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(people["owner"])

    assert guarded.post("/notifications/read-all/").status_code == 403
    assert Notification.objects.filter(read_at__isnull=True).count() == 1
    assert owner.post("/notifications/read-all/").status_code == 302
    assert Notification.objects.filter(read_at__isnull=True).count() == 0


def test_another_persons_notification_is_not_found(people, owner):
    (theirs,) = notify(event=events.PROMPT_RETIRED, subject="x", users=[people["viewer"]])

    assert owner.post(f"/notifications/{theirs.pk}/read/").status_code == 404
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_open_marks_read_and_follows_the_link(people, owner):
    (entry,) = notify(
        event=events.PROMPT_RETIRED, subject="x", users=[people["owner"]], url="/reviews/"
    )

    response = owner.post(f"/notifications/{entry.pk}/read/", {"open": "1"})

    assert response["Location"] == "/reviews/"


def test_settings_turn_an_email_off(people, owner):
    form = owner.get("/notifications/settings/").content.decode()
    data = {name: "on" for name, _ in events.EVENTS if name != events.STALE_DIGEST}

    saved = owner.post("/notifications/settings/", data)

    assert 'name="stale.digest"' in form
    assert saved.status_code == 302
    assert Preference.objects.get(user=people["owner"], event=events.STALE_DIGEST).email is False
    assert Preference.objects.get(user=people["owner"], event=events.ROLLBACK).email is True


def test_owners_see_the_webhooks_section_others_do_not(team, people, owner):
    viewer = client_of(people["viewer"])

    assert 'id="webhooks"' in owner.get(f"/teams/{team.slug}/").content.decode()
    assert 'id="webhooks"' not in viewer.get(f"/teams/{team.slug}/").content.decode()


def test_adding_a_webhook_shows_its_secret_once(team, people, owner, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False

    created = owner.post(
        f"/teams/{team.slug}/webhooks/",
        {"url": "https://93.184.216.34/hook", "events": [events.ROLLBACK]},
    )
    refused = owner.post(f"/teams/{team.slug}/webhooks/", {"url": "http://10.0.0.1/"})
    hook = Webhook.objects.get()

    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    assert hook.secret in created.content.decode()
    assert hook.secret not in owner.get(f"/teams/{team.slug}/").content.decode()
    assert refused.status_code == 422
    assert "not a public address" in refused.content.decode()


@pytest.mark.parametrize("who", ["maintainer", "viewer", "outsider"])
def test_only_owners_manage_webhooks(team, people, who, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    hook = webhook_create(actor=people["owner"], team=team, url="https://93.184.216.34/a")
    client = client_of(people[who])

    assert (
        client.post(f"/teams/{team.slug}/webhooks/", {"url": "https://93.184.216.34/b"}).status_code
        == 403
    )
    assert client.post(f"/teams/{team.slug}/webhooks/{hook.pk}/delete/").status_code == 403
    assert client.post(f"/teams/{team.slug}/webhooks/{hook.pk}/test/").status_code == 403
    assert client.get(f"/teams/{team.slug}/webhooks/{hook.pk}/").status_code == 403
    assert client.get(f"/teams/{team.slug}/notifications/").status_code == 403
    assert Webhook.objects.count() == 1


def test_turn_off_and_delete(team, people, owner, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    hook = webhook_create(actor=people["owner"], team=team, url="https://93.184.216.34/a")

    owner.post(f"/teams/{team.slug}/webhooks/{hook.pk}/active/", {"active": "0"})
    hook.refresh_from_db()
    assert not hook.is_active
    owner.post(f"/teams/{team.slug}/webhooks/{hook.pk}/delete/")
    assert not Webhook.objects.exists()


def test_were_we_told_page(team, people, owner, committed):
    with committed():
        notify(event=events.ROLLBACK, subject="Rolled back prod", team=team)

    page = owner.get(f"/teams/{team.slug}/notifications/").content.decode()
    emails = owner.get(f"/teams/{team.slug}/notifications/?channel=email").content.decode()

    assert "Rolled back prod" in page
    assert "maintainer-1@example.com" in page
    assert "Inbox" in page
    assert "maintainer-1@example.com" in emails
    assert "<td>Inbox</td>" not in emails
