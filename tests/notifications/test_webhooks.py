"""Webhook delivery to a real HTTP server in the test process (pytest-httpserver): signatures,
retries, giving up, disabling, redirects; and the SSRF guard with WEBHOOK_ALLOW_PRIVATE off."""

import json
import time
from pathlib import Path

import pytest
from werkzeug import Response

from portal.errors import Invalid
from teams.notifications import events
from teams.notifications.models import Delivery, Notification, WebhookAttempt
from teams.notifications.services import notify
from teams.notifications.tasks import deliver_webhook
from teams.notifications.webhooks import webhook_create, webhook_send_test
from tests.notifications.receiver import verify

pytestmark = pytest.mark.django_db
SECRET = "a-receiver-secret-0123456789"


@pytest.fixture
def allow_private(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    return settings


@pytest.fixture
def hook(team, people, allow_private, httpserver):
    return webhook_create(
        actor=people["owner"],
        team=team,
        url=f"http://127.0.0.1:{httpserver.port}/hook",
        events=[events.ROLLBACK, events.PROMPT_DEPRECATED],
        secret=SECRET,
    )


def tell(team, committed, event=events.ROLLBACK):
    with committed():
        notify(event=event, subject="support/refund-reply rolled back", team=team, data={"v": 2})


def tries(hook):
    return list(
        WebhookAttempt.objects.filter(webhook=hook)
        .order_by("number")
        .values_list("number", "status_code", "ok")
    )


def test_a_delivery_is_signed_and_verifies_with_the_secret(team, hook, httpserver, committed):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")

    tell(team, committed)

    ((request, _),) = httpserver.log
    body = request.get_data()
    timestamp = request.headers["X-Portal-Timestamp"]
    signature = request.headers["X-Portal-Signature"]
    assert signature.startswith("sha256=")
    assert verify(SECRET, body, timestamp, signature)
    assert not verify("another-secret-0123456789", body, timestamp, signature)
    assert not verify(SECRET, body + b" ", timestamp, signature)
    payload = json.loads(body)
    delivery = Delivery.objects.get(channel="webhook")
    assert payload["id"] == str(delivery.uuid) == request.headers["X-Portal-Delivery"]
    assert (payload["schema"], payload["event"], payload["team"]) == (
        1,
        "deployment.rolled_back",
        team.slug,
    )
    assert payload["data"] == {"v": 2}
    assert request.headers["Host"] == f"127.0.0.1:{httpserver.port}"
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert tries(hook) == [(1, 200, True)]


def test_a_receiver_rejects_a_timestamp_outside_five_minutes(team, hook, httpserver, committed):
    httpserver.expect_request("/hook").respond_with_data("ok")
    tell(team, committed)
    ((request, _),) = httpserver.log
    args = (SECRET, request.get_data(), request.headers["X-Portal-Timestamp"])
    signature = request.headers["X-Portal-Signature"]
    sent_at = int(args[2])

    assert verify(*args, signature, now=sent_at + 299)
    assert not verify(*args, signature, now=sent_at + 301)
    assert not verify(*args, signature, now=sent_at - 301)
    assert abs(time.time() - sent_at) < 60


def test_an_event_the_webhook_did_not_subscribe_to_is_not_sent(team, hook, httpserver, committed):
    tell(team, committed, event=events.PROMOTION_APPLIED)

    assert httpserver.log == []
    assert not Delivery.objects.filter(channel="webhook").exists()


def test_a_500_is_retried_until_it_succeeds(team, hook, httpserver, committed):
    for status in (500, 503, 200):
        httpserver.expect_ordered_request("/hook").respond_with_data("", status=status)

    tell(team, committed)

    assert tries(hook) == [(1, 500, False), (2, 503, False), (3, 200, True)]
    delivery = Delivery.objects.get(channel="webhook")
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, "")
    hook.refresh_from_db()
    assert (hook.consecutive_failures, hook.is_active) == (0, True)


def test_it_gives_up_after_six_tries_and_logs_each(team, hook, httpserver, committed):
    httpserver.expect_request("/hook").respond_with_data("down", status=500)

    tell(team, committed)

    assert [t[:2] for t in tries(hook)] == [(n, 500) for n in range(1, 7)]
    delivery = Delivery.objects.get(channel="webhook")
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 6, "HTTP 500.")
    hook.refresh_from_db()
    assert (hook.is_active, hook.consecutive_failures) == (True, 6)
    assert all(t.duration_ms >= 0 for t in WebhookAttempt.objects.all())


def test_after_n_failures_in_a_row_it_is_disabled_and_owners_told(
    team, people, hook, httpserver, committed, settings
):
    settings.WEBHOOK_MAX_FAILURES = 3
    httpserver.expect_request("/hook").respond_with_data("down", status=500)

    tell(team, committed)

    hook.refresh_from_db()
    assert not hook.is_active
    assert hook.disabled_at is not None
    assert len(tries(hook)) == 3  # no try after it was disabled
    told = Notification.objects.filter(event=events.WEBHOOK_DISABLED)
    assert [n.user.username for n in told] == ["owner-1"]
    recorded = Delivery.objects.filter(event=events.WEBHOOK_DISABLED, team=team)
    assert sorted(recorded.values_list("channel", flat=True)) == ["email", "inbox"]  # not itself
    tell(team, committed)
    assert len(httpserver.log) == 3  # a disabled webhook gets nothing more


def test_a_redirect_is_a_failure_and_not_followed(team, hook, httpserver, committed):
    elsewhere = f"http://127.0.0.1:{httpserver.port}/internal"
    httpserver.expect_request("/hook").respond_with_response(
        Response(status=302, headers={"Location": elsewhere})
    )
    httpserver.expect_request("/internal").respond_with_data("secret data")

    tell(team, committed)

    assert [request.path for request, _ in httpserver.log] == ["/hook"]
    (attempt,) = WebhookAttempt.objects.all()
    assert (attempt.status_code, attempt.ok) == (302, False)
    assert attempt.error == f"Redirect to {elsewhere} not followed."
    assert Delivery.objects.get(channel="webhook").status == "failed"


def test_the_send_test_button_posts_a_test_event(team, people, hook, httpserver, committed):
    httpserver.expect_request("/hook").respond_with_data("ok")

    with committed():
        webhook_send_test(actor=people["owner"], webhook=hook)

    ((request, _),) = httpserver.log
    assert json.loads(request.get_data())["event"] == "webhook.test"
    assert request.headers["X-Portal-Event"] == "webhook.test"


def test_delivery_checks_the_address_again(team, hook, httpserver, committed, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    httpserver.expect_request("/hook").respond_with_data("ok")

    tell(team, committed)

    assert httpserver.log == []
    (attempt,) = WebhookAttempt.objects.all()  # refused at once, not retried
    assert attempt.status_code is None
    assert attempt.error.startswith("Refused: 127.0.0.1 resolves to 127.0.0.1")
    assert Delivery.objects.get(channel="webhook").status == "failed"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://[::1]/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8080/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://192.168.1.10/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://[fe80::1]/hook",
        "http://[fc00::1]/hook",
        "http://[64:ff9b::a00:1]/hook",
        "ftp://93.184.216.34/hook",
        "file:///etc/passwd",
        "http://user:pass@93.184.216.34/hook",
    ],
)
def test_registration_refuses_what_is_not_public_http(team, people, url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False

    with pytest.raises(Invalid) as refused:
        webhook_create(actor=people["owner"], team=team, url=url)

    assert "url" in refused.value.errors
    assert not team.webhooks.exists()


def test_a_public_address_is_accepted(team, people, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False

    hook = webhook_create(actor=people["owner"], team=team, url="https://93.184.216.34/hook")

    assert hook.url == "https://93.184.216.34/hook"
    assert len(hook.secret) >= 32  # generated when none is given


def test_the_readme_shows_this_receiver_code():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = (Path(__file__).parent / "receiver.py").read_text()
    code = code[code.index("import hashlib") :]
    if "X-Portal-Signature" not in readme:
        pytest.skip("the README's webhook section is not there yet")
    assert code in readme


def test_a_task_delivered_again_keeps_to_the_six_tries(team, hook, httpserver, committed):
    """The budget is the delivery's recorded tries, not Celery's retry count of one task run:
    a delivery that already had five tries gets one more from a fresh task, then gives up."""
    httpserver.expect_request("/hook").respond_with_data("down", status=500)
    tell(team, committed)
    delivery = Delivery.objects.get(channel="webhook")
    Delivery.objects.filter(pk=delivery.pk).update(status="pending", attempts=5)

    deliver_webhook.delay(delivery.pk)  # a fresh task: its own retry count starts at 0

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 6)
