"""`notify`: who gets an inbox entry and an e-mail, opt-outs, and the record of what was sent."""

import pytest
from django.db import transaction

from portal.models import OutboxMessage
from teams.notifications import events
from teams.notifications.models import Delivery, Notification
from teams.notifications.services import notify, preferences_set
from teams.notifications.tasks import send_emails
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_team_owners_and_maintainers_and_named_users_are_told_once(team, people, committed):
    reviewer = UserFactory(username="reviewer")
    inactive = UserFactory(username="gone", is_active=False)

    with committed():
        sent = notify(
            event=events.PROMOTION_REQUESTED,
            subject="support/refund-reply v3 to production",
            body="Please review.",
            team=team,
            users=[reviewer, people["owner"], inactive],
            url="/promotions/1/",
            data={"request": 1},
        )

    told = sorted(n.user.username for n in sent)
    assert told == ["maintainer-1", "owner-1", "reviewer"]
    assert Notification.objects.filter(user=people["viewer"]).count() == 0
    assert Notification.objects.filter(user=inactive).count() == 0
    entry = Notification.objects.get(user=reviewer)
    assert (entry.team, entry.url, entry.data, entry.read_at) == (
        team,
        "/promotions/1/",
        {"request": 1},
        None,
    )


def test_every_channel_is_recorded_and_emails_go_out(team, people, committed, mailoutbox):
    with committed():
        notify(event=events.ROLLBACK, subject="Rolled back", body="Why: broken", team=team)

    records = Delivery.objects.filter(team=team)
    assert sorted(records.values_list("channel", "target", "status")) == [
        ("email", "maintainer-1@example.com", "sent"),
        ("email", "owner-1@example.com", "sent"),
        ("inbox", "maintainer-1", "sent"),
        ("inbox", "owner-1", "sent"),
    ]
    assert all(r.sent_at and r.event == events.ROLLBACK for r in records)
    assert sorted(m.to[0] for m in mailoutbox) == [
        "maintainer-1@example.com",
        "owner-1@example.com",
    ]
    assert mailoutbox[0].subject == "[Prompt portal] Rolled back"
    assert "Why: broken" in mailoutbox[0].body


def test_an_opt_out_stops_the_email_and_is_recorded(team, people, committed, mailoutbox):
    preferences_set(user=people["owner"], email={events.ROLLBACK: False})

    with committed():
        notify(event=events.ROLLBACK, subject="Rolled back", team=team)
        notify(event=events.PROMOTION_APPLIED, subject="Applied", team=team)

    to_owner = [m.subject for m in mailoutbox if m.to == ["owner-1@example.com"]]
    assert to_owner == ["[Prompt portal] Applied"]
    skipped = Delivery.objects.get(user=people["owner"], channel="email", event=events.ROLLBACK)
    assert (skipped.status, skipped.last_error) == ("skipped", "Opted out.")
    assert Notification.objects.filter(user=people["owner"], event=events.ROLLBACK).exists()


def test_emails_are_sent_once_when_the_task_runs_twice(team, people, committed, mailoutbox):
    with committed():
        notify(event=events.ROLLBACK, subject="Rolled back", users=[people["viewer"]])
    ids = list(Delivery.objects.filter(channel="email").values_list("pk", flat=True))
    assert send_emails(ids) == 0
    assert len(mailoutbox) == 1


def test_unknown_event_is_a_programming_error(team):
    with pytest.raises(ValueError, match="Unknown notification event"):
        notify(event="promotion.exploded", subject="x", team=team)


def test_text_is_kept_plain_and_short(people):
    (entry,) = notify(
        event=events.STALE_DIGEST,
        subject="s" * 500 + "\x00",
        body="b\x00" * 20_000,
        users=[people["viewer"]],
    )
    entry.refresh_from_db()
    assert len(entry.subject) == 200
    assert entry.subject.endswith("…")
    assert "\x00" not in entry.body
    assert len(entry.body) == 16_000


def test_a_mail_server_that_refuses_is_recorded_not_raised(team, people, committed, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2

    with committed():
        notify(event=events.ROLLBACK, subject="Rolled back", users=[people["viewer"]])

    email = Delivery.objects.get(channel="email")
    assert (email.status, email.attempts) == ("failed", 1)
    assert "Connection" in email.last_error or "refused" in email.last_error
    assert Delivery.objects.get(channel="inbox").status == "sent"


def test_nothing_is_told_when_the_callers_transaction_rolls_back(team, people, mailoutbox):
    owed = OutboxMessage.objects.count()

    def change_that_fails():
        with transaction.atomic():
            notify(event=events.ROLLBACK, subject="Rolled back", team=team)
            raise RuntimeError("the caller's change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()

    assert not Notification.objects.exists()
    assert not Delivery.objects.exists()
    assert OutboxMessage.objects.count() == owed
    assert mailoutbox == []


def test_the_cost_does_not_grow_with_the_recipients(team, django_assert_max_num_queries):
    many = [UserFactory(username=f"person-{n}") for n in range(30)]

    with django_assert_max_num_queries(12):
        sent = notify(event=events.STALE_DIGEST, subject="Digest", team=team, users=many)

    assert len(sent) == 30
