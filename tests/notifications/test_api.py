"""The notifications API through real URLs: the inbox is the caller's own, webhooks are for the
team's owners and staff. A permission matrix per endpoint, and nothing changed when refused."""

import pytest
from rest_framework.test import APIClient

from teams.notifications import events
from teams.notifications.models import Delivery, Notification, Preference, Webhook
from teams.notifications.services import notify
from teams.notifications.webhooks import webhook_create
from tests.api.conftest import personal_client, problem, service_client
from tests.factories import MembershipFactory, NamespaceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
CALLERS = ("owner", "maintainer", "viewer", "outsider", "staff", "service", "anonymous")


@pytest.fixture
def world(team, people, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    people["staff"] = UserFactory(username="staff-1", is_staff=True)
    other = TeamFactory(slug="other-team")
    MembershipFactory(team=other, user=people["outsider"], role="owner")
    namespace = NamespaceFactory(slug="support", team=team)
    hook = webhook_create(actor=people["owner"], team=team, url="https://93.184.216.34/a")
    foreign = webhook_create(actor=people["outsider"], team=other, url="https://93.184.216.34/b")
    clients = {name: personal_client(user) for name, user in people.items()}
    clients["service"] = service_client(actor=people["staff"], namespaces=[namespace])
    clients["anonymous"] = APIClient()
    return {"clients": clients, "hook": hook, "foreign": foreign, "people": people}


def state() -> tuple:
    return (
        list(Webhook.objects.order_by("pk").values()),
        list(Notification.objects.order_by("pk").values("pk", "read_at")),
        list(Preference.objects.values()),
        Delivery.objects.count(),
    )


def matrix(world, method, path, body, expected):
    mismatches = []
    for caller in CALLERS:
        before = state()
        response = getattr(world["clients"][caller], method)(path, body, format="json")
        if response.status_code != expected[caller]:
            mismatches.append(f"{caller}: {response.status_code} != {expected[caller]}")
        elif response.status_code >= 400:
            problem(response)
            if state() != before:
                mismatches.append(f"{caller}: refused but changed something")
    return mismatches


def owners_only(success, outsider=403):
    return {
        "owner": success,
        "staff": success,
        "maintainer": 403,
        "viewer": 403,
        "outsider": outsider,
        "service": 403,
        "anonymous": 401,
    }


PEOPLE_ONLY = dict.fromkeys(CALLERS, 200) | {"service": 403, "anonymous": 401}


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("get", "/api/v1/notifications/", None, PEOPLE_ONLY),
        ("get", "/api/v1/notifications/unread-count/", None, PEOPLE_ONLY),
        ("post", "/api/v1/notifications/read-all/", None, PEOPLE_ONLY),
        ("get", "/api/v1/notifications/preferences/", None, PEOPLE_ONLY),
        (
            "patch",
            "/api/v1/notifications/preferences/",
            {"email": {"stale.digest": False}},
            PEOPLE_ONLY,
        ),
        ("get", "/api/v1/teams/support-team/webhooks/", None, owners_only(200)),
        (
            "post",
            "/api/v1/teams/support-team/webhooks/",
            {"url": "https://93.184.216.34/new", "events": ["prompt.retired"]},
            owners_only(201),
        ),
        ("get", "/api/v1/teams/support-team/notifications/", None, owners_only(200)),
    ],
)
def test_permission_matrix(world, method, path, body, expected):
    assert matrix(world, method, path, body, expected) == []


@pytest.mark.parametrize(
    ("method", "suffix", "body", "success"),
    [
        ("get", "", None, 200),
        ("patch", "", {"events": ["prompt.deprecated"]}, 200),
        ("delete", "", None, 204),
        ("get", "deliveries/", None, 200),
    ],
)
def test_permission_matrix_of_one_webhook(world, method, suffix, body, success):
    hook = world["hook"]
    path = f"/api/v1/teams/support-team/webhooks/{hook.pk}/{suffix}"

    for caller in ("maintainer", "viewer", "outsider", "service", "anonymous"):
        before = state()
        response = getattr(world["clients"][caller], method)(path, body, format="json")
        assert response.status_code == owners_only(success)[caller], caller
        assert state() == before
    response = getattr(world["clients"]["owner"], method)(path, body, format="json")
    assert response.status_code == success


def test_another_teams_webhook_is_not_found(world):
    foreign = world["foreign"]
    owner = world["clients"]["owner"]
    path = f"/api/v1/teams/support-team/webhooks/{foreign.pk}/"

    assert owner.get(path).status_code == 404
    assert owner.patch(path, {"is_active": False}, format="json").status_code == 404
    assert owner.delete(path).status_code == 404
    assert Webhook.objects.get(pk=foreign.pk).is_active


def test_creating_a_webhook_shows_the_secret_once(world):
    owner = world["clients"]["owner"]

    created = owner.post(
        "/api/v1/teams/support-team/webhooks/",
        {"url": "https://93.184.216.34/x", "secret": "my-secret-0123456789"},
        format="json",
    )
    listed = owner.get("/api/v1/teams/support-team/webhooks/").json()

    assert created.status_code == 201
    assert created.json()["secret"] == "my-secret-0123456789"
    assert created.json()["events"] == []
    assert all("secret" not in hook for hook in listed["results"])


def test_an_unsafe_url_is_refused_with_a_field_error(world):
    response = world["clients"]["owner"].post(
        "/api/v1/teams/support-team/webhooks/", {"url": "http://127.0.0.1/x"}, format="json"
    )

    assert response.status_code == 422
    assert "url" in problem(response)["errors"]


def test_the_inbox_is_the_callers_own(world):
    people = world["people"]
    (mine,) = notify(event=events.PROMPT_RETIRED, subject="Retired", users=[people["viewer"]])
    (theirs,) = notify(event=events.PROMPT_RETIRED, subject="Retired", users=[people["outsider"]])
    viewer = world["clients"]["viewer"]

    listed = viewer.get("/api/v1/notifications/").json()
    count = viewer.get("/api/v1/notifications/unread-count/").json()
    other = viewer.post(f"/api/v1/notifications/{theirs.pk}/read/")
    read = viewer.post(f"/api/v1/notifications/{mine.pk}/read/")

    assert [n["id"] for n in listed["results"]] == [mine.pk]
    assert count == {"unread": 1}
    assert other.status_code == 404
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    assert read.status_code == 200
    assert read.json()["read"] is True
    assert viewer.get("/api/v1/notifications/unread-count/").json() == {"unread": 0}
    assert viewer.get("/api/v1/notifications/?unread=true").json()["count"] == 0


def test_preferences_round_trip(world):
    viewer = world["clients"]["viewer"]

    changed = viewer.patch(
        "/api/v1/notifications/preferences/", {"email": {"prompt.retired": False}}, format="json"
    )
    unknown = viewer.patch(
        "/api/v1/notifications/preferences/", {"email": {"nope": False}}, format="json"
    )

    assert changed.json()["email"]["prompt.retired"] is False
    assert changed.json()["email"]["prompt.deprecated"] is True
    assert unknown.status_code == 422


def test_owners_read_what_was_sent_to_their_team(
    world, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_TRIES, settings.WEBHOOK_TIMEOUT_SECONDS = 1, 0.5  # no internet here
    with django_capture_on_commit_callbacks(execute=True):
        notify(event=events.PROMPT_DEPRECATED, subject="Deprecated", team=world["hook"].team)

    sent = world["clients"]["owner"].get("/api/v1/teams/support-team/notifications/").json()
    emails = world["clients"]["owner"].get(
        "/api/v1/teams/support-team/notifications/?channel=email"
    )

    channels = sorted((d["channel"], d["target"]) for d in sent["results"])
    assert ("webhook", "https://93.184.216.34/a") in channels
    assert ("inbox", "owner-1") in channels
    assert ("email", "maintainer-1@example.com") in channels
    assert {d["channel"] for d in emails.json()["results"]} == {"email"}
