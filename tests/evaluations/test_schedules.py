"""The runs the portal starts by itself: the nightly schedule (production prompts on their
configured model and the team's watched models, once per night) and a model's release (the
suites of prompts naming it or its family, once), and the beat row behind the nightly."""

import datetime as dt
import logging
import threading

import pytest
from django.db import connection
from django_celery_beat.models import PeriodicTask

from portal.audit.models import AuditEntry
from prompts.evaluations import runs, schedules, tasks
from prompts.evaluations.models import Model, Run, WatchedModel
from tests.api.conftest import personal_client
from tests.evaluations.schedule_helpers import (
    deploy,
    echo_model,
    prompt_with_versions,
    started,
    suite,
)
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

THREADS = 4
CASES = [({"name": "Ada"}, [{"type": "contains", "value": "Ada"}])]


@pytest.fixture
def world():
    """Team alpha: `support/reply` (v1 on gpt-a in staging, v2 on gpt-a in production, two
    suites), `support/other` in production on a model nobody registered; alpha watches
    `watched`. Team beta: `beta-ns/draft`, deployed nowhere."""
    alpha, beta = TeamFactory(slug="alpha"), TeamFactory(slug="beta")
    gpt_a, watched = echo_model("gpt-a", family="gpt"), echo_model("watched")
    reply, (v1, v2) = prompt_with_versions(
        team=alpha,
        namespace="support",
        name="reply",
        versions=[("Hi {{name}}", {"model": "gpt-a"}), ("Hello {{name}}", {"model": "gpt-a"})],
    )
    deploy(reply, v1, "staging")
    deploy(reply, v2, "production")
    suite(reply, "smoke", CASES)
    suite(reply, "tone", CASES * 2)
    other = prompt_with_versions(
        team=alpha,
        namespace="support-b",
        name="other",
        versions=[("Yo {{name}}", {"model": "unregistered-9"})],
    )
    deploy(other[0], other[1][0], "production")
    suite(other[0], "basic", CASES)
    draft = prompt_with_versions(
        team=beta, namespace="beta-ns", name="draft", versions=[("X {{name}}", {"model": "gpt-a"})]
    )
    suite(draft[0], "basic", CASES)
    WatchedModel.objects.create(team=alpha, model=watched)
    return {"gpt_a": gpt_a, "watched": watched, "reply": reply, "v1": v1, "v2": v2}


def test_the_nightly_beat_row_exists_after_migrate():
    task = PeriodicTask.objects.get(name="evaluations-nightly")
    assert task.task == "prompts.evaluations.tasks.nightly_evaluations"
    assert task.enabled
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == ("0", "2", "UTC")
    assert task.crontab.day_of_week == task.crontab.day_of_month == "*"


def test_nightly_runs_production_suites_on_the_configured_and_the_watched_models(world, caplog):
    with caplog.at_level(logging.INFO, logger="prompts.evaluations.schedules"):
        count = tasks.nightly_evaluations()

    made = list(Run.objects.select_related("suite", "version", "model"))
    assert count == len(made) == 5
    assert started(made) == {
        ("smoke", 2, "gpt-a"),
        ("smoke", 2, "watched"),
        ("tone", 2, "gpt-a"),
        ("tone", 2, "watched"),
        ("basic", 1, "watched"),  # support/other: its own model is not registered
    }
    assert {(r.trigger, r.requested_by_id, r.state) for r in made} == {("schedule", None, "queued")}
    assert "names model 'unregistered-9', which is not registered: skipped" in caplog.text
    audited = AuditEntry.objects.filter(action="evaluation.run_created")
    assert sorted(audited.values_list("object_id", flat=True)) == sorted(str(r.pk) for r in made)


def test_nightly_twice_in_one_night_starts_each_run_once(world):
    first = tasks.nightly_evaluations()
    second = tasks.nightly_evaluations()

    assert (first, second) == (5, 0)
    assert Run.objects.count() == 5


def test_the_next_night_runs_again(world):
    tasks.nightly_evaluations()
    yesterday = schedules.last_midnight_utc() - dt.timedelta(hours=1)
    Run.objects.update(created_at=yesterday)

    assert tasks.nightly_evaluations() == 5
    assert Run.objects.count() == 10


def test_a_manual_run_today_does_not_stop_the_nightly(world):
    runs.run_create(
        actor=None,
        prompt=world["reply"],
        version=world["v2"],
        suite=world["reply"].suites.get(name="smoke"),
        model=world["gpt_a"],
    )

    assert tasks.nightly_evaluations() == 5


def test_a_suite_without_cases_is_skipped_not_fatal(world, caplog):
    suite(world["reply"], "empty", [])

    with caplog.at_level(logging.WARNING, logger="prompts.evaluations.schedules"):
        assert tasks.nightly_evaluations() == 5
    assert "suite empty" in caplog.text
    assert "has no cases" in caplog.text


def test_a_retired_prompt_is_not_run(world):
    world["reply"].state = "retired"
    world["reply"].save(update_fields=["state"])

    assert started(schedules.nightly_start()) == {("basic", 1, "watched")}


# --- model release --------------------------------------------------------------------------


def test_a_release_runs_the_suites_of_prompts_naming_its_family_once(world):
    newer = echo_model("gpt-b", family="gpt")
    pinned, (pv,) = prompt_with_versions(
        team=TeamFactory(slug="gamma"),
        namespace="gamma",
        name="pinned",
        versions=[("P {{name}}", {"model": "gpt"})],  # the family's name
    )
    deploy(pinned, pv, "development")
    suite(pinned, "basic", CASES)

    first = tasks.evaluate_model_release(newer.pk)
    second = tasks.evaluate_model_release(newer.pk)

    made = list(Run.objects.select_related("suite", "version", "model"))
    assert (first, second) == (5, 0)
    # support/reply: v1 (staging) and v2 (production) name gpt-a, of the family; support/other
    # names an unregistered model; beta-ns/draft is deployed nowhere.
    assert started(made) == {
        ("smoke", 1, "gpt-b"),
        ("smoke", 2, "gpt-b"),
        ("tone", 1, "gpt-b"),
        ("tone", 2, "gpt-b"),
        ("basic", 1, "gpt-b"),
    }
    assert {r.trigger for r in made} == {"model_release"}


def test_a_model_without_family_runs_the_prompts_naming_it(world):
    assert started(schedules.model_release_start(model=world["watched"])) == set()

    assert started(schedules.model_release_start(model=world["gpt_a"])) == {
        ("smoke", 1, "gpt-a"),
        ("smoke", 2, "gpt-a"),
        ("tone", 1, "gpt-a"),
        ("tone", 2, "gpt-a"),
    }


def test_a_new_release_date_runs_again(world):
    model = world["gpt_a"]
    assert tasks.evaluate_model_release(model.pk) == 4

    model.released_at = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    model.save()

    assert tasks.evaluate_model_release(model.pk) == 4
    assert tasks.evaluate_model_release(model.pk) == 0


def test_a_deleted_model_starts_nothing(world):
    assert tasks.evaluate_model_release(987654) == 0


def test_registering_a_model_through_the_api_queues_its_suites_once(
    world, django_capture_on_commit_callbacks
):
    client = personal_client(UserFactory(username="admin-person", is_staff=True))
    body = {"name": "gpt-a-2026-12-01", "provider": "echo", "family": "gpt"}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/models/", body, format="json")
    assert response.status_code == 201, response.content
    model = Model.objects.get(name="gpt-a-2026-12-01")
    assert tasks.evaluate_model_release(model.pk) == 0  # the same message delivered again

    made = list(Run.objects.filter(model=model).select_related("suite", "version", "model"))
    assert started(made) == {
        ("smoke", 1, "gpt-a-2026-12-01"),
        ("smoke", 2, "gpt-a-2026-12-01"),
        ("tone", 1, "gpt-a-2026-12-01"),
        ("tone", 2, "gpt-a-2026-12-01"),
    }
    assert len(made) == 4
    assert {r.trigger for r in made} == {"model_release"}


@pytest.mark.django_db(transaction=True)
def test_two_nightly_tasks_at_once_start_each_run_once(world):
    barrier = threading.Barrier(THREADS)
    counts: list[int] = []
    errors: list[BaseException] = []

    def night() -> None:
        try:
            barrier.wait(timeout=10)
            counts.append(tasks.nightly_evaluations())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=night) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(counts) == 5
    assert Run.objects.count() == 5
