"""The model registry (staff, audited, a release queues the re-evaluation once) and the teams'
watch lists (team owners), through the real API."""

import datetime as dt

import pytest

from portal.audit.models import AuditEntry
from portal.models import OutboxMessage
from prompts.evaluations.models import Model, WatchedModel
from prompts.evaluations.registry import RELEASE_TASK
from tests.api.conftest import personal_client, problem
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/models/"
NEW = {
    "name": "gpt-4o-mini-2024-07-18",
    "provider": "openai",
    "provider_model_id": "gpt-4o-mini-2024-07-18",
    "base_url": "https://api.openai.com/v1",
    "api_key_env": "OPENAI_API_KEY",
    "price_in_per_million": "0.15",
    "price_out_per_million": 0.6,
    "released_at": "2024-07-18T00:00:00Z",
    "notes": "the small one",
}


@pytest.fixture
def staff_api(staff):
    return personal_client(staff)


@pytest.fixture
def person_api(db):
    return personal_client(UserFactory(username="someone"))


def release_messages(model: Model) -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.filter(
            kind="task", payload__task=RELEASE_TASK, payload__args=[model.pk]
        )
    )


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


# --- registry -------------------------------------------------------------------------------


def test_staff_register_a_model_audited_and_its_release_queued_once(staff_api):
    response = staff_api.post(MODELS, NEW, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == NEW["name"]
    assert body["family"] == "gpt-4o-mini"  # the date dropped, when no family is given
    assert body["price_in_per_million"] == 0.15
    assert (body["is_offline_echo"], body["label"]) == (False, "")
    model = Model.objects.get(name=NEW["name"])
    (entry,) = entries("model.registered")
    assert entry.actor == "staff-user"
    assert entry.object_id == NEW["name"]
    assert entry.after["base_url"] == NEW["base_url"]
    assert len(release_messages(model)) == 1
    assert model.history.count() == 1


def test_the_list_and_the_detail_label_the_offline_echo(person_api):
    listed = person_api.get(MODELS).json()
    local = next(m for m in listed["results"] if m["name"] == "local")
    assert local["label"] == "offline echo, not a language model"
    detail = person_api.get(f"{MODELS}local/").json()
    assert (detail["provider"], detail["is_offline_echo"]) == ("echo", True)
    assert problem(person_api.get(f"{MODELS}nope/"))["status"] == 404


def test_people_who_are_not_staff_may_not_register_or_change_models(person_api):
    notes = Model.objects.get(name="local").notes
    response = person_api.post(MODELS, NEW, format="json")
    assert problem(response)["status"] == 403
    response = person_api.patch(f"{MODELS}local/", {"notes": "mine"}, format="json")
    assert problem(response)["status"] == 403
    assert not Model.objects.filter(name=NEW["name"]).exists()
    assert Model.objects.get(name="local").notes == notes
    assert OutboxMessage.objects.filter(payload__task=RELEASE_TASK).count() == 0
    assert not AuditEntry.objects.filter(object_type="model").exists()


def test_a_change_of_released_at_queues_the_release_once_other_changes_do_not(staff_api):
    staff_api.post(MODELS, NEW, format="json")
    model = Model.objects.get(name=NEW["name"])
    url = f"{MODELS}{model.name}/"

    priced = staff_api.patch(url, {"price_out_per_million": "0.7"}, format="json")
    assert priced.status_code == 200, priced.content
    assert priced.json()["price_out_per_million"] == 0.7
    assert len(release_messages(model)) == 1  # the registration's only
    (changed,) = entries("model.changed")
    assert (changed.before["price_out_per_million"], changed.after["price_out_per_million"]) == (
        "0.600000",
        "0.700000",
    )

    later = dt.datetime(2024, 9, 1, tzinfo=dt.UTC).isoformat()
    assert staff_api.patch(url, {"released_at": later}, format="json").status_code == 200
    assert len(release_messages(model)) == 2
    assert staff_api.patch(url, {"released_at": later}, format="json").status_code == 200
    assert len(release_messages(model)) == 2  # unchanged: nothing queued, nothing audited
    assert len(entries("model.changed")) == 2
    assert model.history.count() == 3


def test_a_name_registered_twice_is_a_conflict(staff_api):
    assert staff_api.post(MODELS, NEW, format="json").status_code == 201
    again = staff_api.post(MODELS, NEW, format="json")
    assert problem(again)["status"] == 409
    assert Model.objects.filter(name=NEW["name"]).count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "with/slash"}, "name"),
        ({"api_key_env": "SECRET_KEY"}, "api_key_env"),
        ({"api_key_env": "DATABASE_URL"}, "api_key_env"),
        ({"base_url": "ftp://example.com/v1"}, "base_url"),
        ({"base_url": "https://user:pw@example.com/v1"}, "base_url"),
        ({"provider": "anthropic"}, "provider"),
        ({"price_in_per_million": -1}, "price_in_per_million"),
        ({"provider": "echo"}, "base_url"),  # an echo calls nothing
    ],
)
def test_bad_registrations_name_the_field(staff_api, change, field):
    response = staff_api.post(MODELS, {**NEW, **change}, format="json")
    body = problem(response)
    assert body["status"] in (400, 422)
    assert field in body["errors"], body
    assert not Model.objects.exclude(name="local").exists()


def test_the_name_is_not_changed_and_local_stays_the_echo(staff_api):
    response = staff_api.patch(f"{MODELS}local/", {"provider": "openai"}, format="json")
    assert "provider" in problem(response)["errors"]
    renamed = staff_api.patch(f"{MODELS}local/", {"name": "other"}, format="json")
    assert renamed.status_code == 200  # a read-only field is ignored
    assert Model.objects.filter(name="local", provider="echo").exists()


# --- watch lists ----------------------------------------------------------------------------


@pytest.fixture
def team(db):
    return TeamFactory(slug="search")


def member(team, role):
    user = UserFactory(username=f"{team.slug}-{role}")
    MembershipFactory(team=team, user=user, role=role)
    return personal_client(user)


def test_team_owners_keep_the_watch_list(team):
    owner = member(team, "owner")
    url = f"/api/v1/teams/{team.slug}/watched-models/"

    added = owner.post(url, {"model": "local"}, format="json")

    assert added.status_code == 201, added.content
    assert added.json()["model"] == "local"
    assert added.json()["is_offline_echo"] is True
    assert [w["model"] for w in owner.get(url).json()["results"]] == ["local"]
    assert problem(owner.post(url, {"model": "local"}, format="json"))["status"] == 409
    assert "model" in problem(owner.post(url, {"model": "nope"}, format="json"))["errors"]
    (watched,) = entries("team.model_watched")
    assert (watched.object_id, watched.after) == ("search", {"model": "local"})

    assert owner.delete(f"{url}local/").status_code == 204
    assert not WatchedModel.objects.exists()
    assert entries("team.model_unwatched")[0].before == {"model": "local"}
    assert problem(owner.delete(f"{url}local/"))["status"] == 404


@pytest.mark.parametrize("role", ["maintainer", "viewer"])
def test_other_members_read_the_watch_list_but_do_not_change_it(team, role):
    WatchedModel.objects.create(team=team, model=Model.objects.get(name="local"))
    client = member(team, role)
    url = f"/api/v1/teams/{team.slug}/watched-models/"
    assert client.get(url).json()["count"] == 1
    assert problem(client.post(url, {"model": "local"}, format="json"))["status"] == 403
    assert problem(client.delete(f"{url}local/"))["status"] == 403
    assert WatchedModel.objects.count() == 1


def test_staff_keep_any_team_watch_list(team, staff_api):
    url = f"/api/v1/teams/{team.slug}/watched-models/"
    assert staff_api.post(url, {"model": "local"}, format="json").status_code == 201
    assert problem(staff_api.get("/api/v1/teams/nope/watched-models/"))["status"] == 404


@pytest.mark.parametrize(
    "change",
    [
        {"name": "x" * 101},
        {"name": "ünïcode"},
        {"name": ""},
        {"notes": "\x00"},
        {"notes": "n" * 100_000},
        {"family": "f" * 101},
        {"price_in_per_million": "1e30"},
        {"price_out_per_million": "NaN"},
        {"released_at": "yesterday"},
        {"base_url": "http://[::1"},
        {"base_url": "x" * 3000},
        {"api_key_env": "OPENAI_API_KEY\nX"},
        {"provider": None},
    ],
)
def test_hostile_registrations_are_problems_not_errors(staff_api, change):
    response = staff_api.post(MODELS, {**NEW, **change}, format="json")
    assert problem(response)["status"] in (400, 422), response.content
    assert not Model.objects.exclude(name="local").exists()


def test_a_lone_surrogate_is_a_problem(staff_api):
    body = '{"name": "m", "provider": "openai", "provider_model_id": "\\ud800"}'
    response = staff_api.post(MODELS, body, content_type="application/json")
    assert problem(response)["status"] in (400, 422)
    assert not Model.objects.exclude(name="local").exists()


def test_hostile_names_in_paths_are_missing(staff_api, team):
    for name in ("%00", "a%2Fb", "..", "x" * 300):
        assert problem(staff_api.get(f"{MODELS}{name}/"))["status"] in (404, 422)
        url = f"/api/v1/teams/{team.slug}/watched-models/{name}/"
        assert problem(staff_api.delete(url))["status"] in (404, 422)


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("http://llm.example.com/v1", "Use https"),
        ("https://llm.example.com/v1?api-key=secret", "No query"),
        ("https://user:pw@llm.example.com/v1", "Credentials in the URL are not allowed"),
    ],
)
def test_a_base_url_that_would_expose_the_key_is_refused(staff_api, base_url, message):
    response = staff_api.post(
        "/api/v1/models/",
        {"name": "remote-x", "provider": "openai", "base_url": base_url},
        format="json",
    )
    assert response.status_code == 422, response.content
    assert message in response.json()["errors"]["base_url"][0]
    assert not Model.objects.filter(name="remote-x").exists()
