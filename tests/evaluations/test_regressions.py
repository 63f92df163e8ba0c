"""The regression check on `run_finished`: a finished run whose pass rate is below the last
passing run of the same suite, version and model tells the owning team (inbox, e-mail,
webhook event `evaluation.regressed`) with the failing cases; a run that holds or improves,
the first run, and runs of other models or versions tell nobody.

The drop is what the check is for: the same prompt version, the same model name, and the
provider's answers changed (a real local HTTP server speaking the Chat Completions JSON)."""

import pytest

from prompts.evaluations import hooks, runs, schedules
from prompts.evaluations.models import Model, Run
from prompts.services import version_create
from teams.notifications.models import Delivery, Notification, Webhook
from tests.evaluations.schedule_helpers import (
    echo_model,
    execute,
    prompt_with_versions,
    run_now,
    suite,
)
from tests.factories import MembershipFactory, TeamFactory, UserFactory, system_actor

pytestmark = pytest.mark.django_db

KEY = "sk-regression-test-key-0123456789"
REFUND_CASES = [
    ({"name": "Ada"}, [{"type": "icontains", "value": "refund"}]),
    ({"name": "Bob"}, [{"type": "icontains", "value": "refund"}]),
    ({"name": "Cy"}, [{"type": "not-contains", "value": "sorry"}]),
]


def chat(text: str) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "vendor-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def answer(httpserver, text: str) -> None:
    httpserver.clear()
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(chat(text))


@pytest.fixture
def team():
    team = TeamFactory(slug="support-team")
    people = {
        role: UserFactory(username=f"{role}-person", email=f"{role}@example.com")
        for role in ("owner", "maintainer", "viewer")
    }
    for role, user in people.items():
        MembershipFactory(team=team, user=user, role=role)
    return team


@pytest.fixture
def remote(settings, monkeypatch, httpserver):
    settings.PROVIDER_ALLOW_PRIVATE = True
    settings.PROVIDER_TIMEOUT_SECONDS = 2
    settings.PROVIDER_MAX_RETRIES = 0
    monkeypatch.setenv("REGRESSION_TEST_KEY", KEY)
    return Model.objects.create(
        name="vendor-model-latest",
        family="vendor-model",
        provider="openai",
        provider_model_id="vendor-model",
        base_url=httpserver.url_for("/v1"),
        api_key_env="REGRESSION_TEST_KEY",
    )


@pytest.fixture
def reply(team):
    prompt, (v1,) = prompt_with_versions(
        team=team,
        namespace="support",
        name="reply",
        versions=[("Write a refund reply to {{name}}", {"model": "vendor-model-latest"})],
    )
    return {"prompt": prompt, "version": v1, "suite": suite(prompt, "refunds", REFUND_CASES)}


def regressions() -> list[Notification]:
    return list(Notification.objects.filter(event="evaluation.regressed").order_by("user_id"))


def test_a_drop_below_the_last_passing_run_tells_the_team(reply, remote, httpserver):
    answer(httpserver, "Your refund is on its way.")
    good = run_now(**reply, model=remote)
    assert (good.state, good.pass_rate) == ("passed", 1.0)
    assert regressions() == []

    Webhook.objects.create(
        team=reply["prompt"].namespace.team,
        url="https://hooks.example.com/evaluations",
        events=["evaluation.regressed"],
        secret="webhook-secret-0123456789",
    )
    answer(httpserver, "We are sorry, we cannot help.")  # the vendor updated the model
    bad = run_now(**reply, model=remote)

    assert bad.state == "failed"
    assert bad.pass_rate == 0
    sent = regressions()
    # the team's owners and maintainers, as every team notification
    assert {n.user.username for n in sent} == {"owner-person", "maintainer-person"}
    notification = sent[0]
    assert notification.subject == (
        "Evaluation regressed: support/reply v1 on vendor-model-latest (refunds) 0% < 100%"
    )
    assert notification.url == f"/evaluations/runs/{bad.pk}/"
    assert "Failing cases:" in notification.body
    assert "- case #1 case 1: " in notification.body
    assert "refund" in notification.body
    assert "- case #3 case 3: " in notification.body
    assert notification.data == {
        "run": bad.pk,
        "previous_run": good.pk,
        "prompt": "support/reply",
        "version": 1,
        "suite": reply["suite"].pk,
        "suite_name": "refunds",
        "model": "vendor-model-latest",
        "pass_rate": 0.0,
        "previous_pass_rate": 1.0,
        "previous_model": "vendor-model-latest",
        "failing_cases": [1, 2, 3],
        "trigger": "manual",
    }
    assert notification.team_id == reply["prompt"].namespace.team_id
    channels = Delivery.objects.filter(event="evaluation.regressed").values_list(
        "channel", flat=True
    )
    assert {"inbox", "email", "webhook"} <= set(channels)


def test_a_run_that_holds_tells_nobody(reply, remote, httpserver):
    answer(httpserver, "Your refund is on its way.")
    run_now(**reply, model=remote)
    again = run_now(**reply, model=remote)

    assert again.state == "passed"
    assert regressions() == []


def test_a_partial_drop_under_a_lower_threshold_still_counts(reply, remote, httpserver):
    reply["suite"].pass_threshold = 0.5
    reply["suite"].save()
    answer(httpserver, "Your refund is on its way.")
    run_now(**reply, model=remote)
    answer(httpserver, "So sorry: your refund is on its way.")  # case 3 fails, 2 of 3 pass

    dropped = run_now(**reply, model=remote)

    assert dropped.state == "passed"  # still above the suite's threshold, yet lower
    assert [n.data["failing_cases"] for n in regressions()] == [[3], [3]]


def test_an_improvement_or_a_first_failing_run_tells_nobody(reply, remote, httpserver):
    answer(httpserver, "We are sorry.")
    first = run_now(**reply, model=remote)
    assert first.state == "failed"
    answer(httpserver, "Your refund is on its way.")
    better = run_now(**reply, model=remote)

    assert better.state == "passed"
    assert regressions() == []


def test_the_comparison_is_per_model_and_per_version(reply, remote, httpserver):
    echo = echo_model("echo-other")  # echoes the prompt: it names the refund, says no sorry
    assert run_now(**reply, model=echo).state == "passed"
    v2 = version_create(
        prompt=reply["prompt"],
        author=system_actor(),
        template="Refund {{name}}",
        variables=["name"],
    )
    answer(httpserver, "Your refund is on its way.")
    assert run_now(**{**reply, "version": v2}, model=remote).state == "passed"
    answer(httpserver, "We are sorry.")

    on_remote = run_now(**reply, model=remote)  # v1 never passed on vendor-model-latest

    assert on_remote.state == "failed"
    assert regressions() == []


def test_a_release_run_on_a_new_model_is_held_to_its_family(reply, remote, httpserver):
    answer(httpserver, "Your refund is on its way.")
    run_now(**reply, model=remote)
    newer = Model.objects.create(
        name="vendor-model-2026-12-01",
        family="vendor-model",
        provider="openai",
        provider_model_id="vendor-model-2026-12-01",
        base_url=remote.base_url,
        api_key_env=remote.api_key_env,
    )
    answer(httpserver, "We are sorry.")

    manual = run_now(**reply, model=newer)  # a person trying it: no history on it, no alert
    assert manual.state == "failed"
    assert regressions() == []
    release = execute(runs.run_create(actor=None, model=newer, trigger="model_release", **reply))

    assert release.state == "failed"
    sent = regressions()
    assert len(sent) == 2
    assert sent[0].subject == (
        "Evaluation regressed: support/reply v1 on vendor-model-2026-12-01 (refunds) 0% < 100% "
        "on vendor-model-latest"
    )
    assert sent[0].data["previous_model"] == "vendor-model-latest"
    assert sent[0].data["trigger"] == "model_release"


def test_a_cancelled_run_is_no_regression(reply, remote, httpserver):
    answer(httpserver, "Your refund is on its way.")
    run_now(**reply, model=remote)
    queued = runs.run_create(actor=None, model=remote, **reply)
    runs.run_cancel(actor=None, run=queued)

    assert Run.objects.get(pk=queued.pk).state == "cancelled"
    assert regressions() == []
    assert schedules.regression_check(run=Run.objects.get(pk=queued.pk)) is False


def test_the_check_is_registered_on_the_hook():
    assert schedules.on_run_finished in list(hooks.run_finished)


def test_a_re_finished_run_is_not_checked_twice(reply, remote, httpserver):
    answer(httpserver, "Your refund is on its way.")
    run_now(**reply, model=remote)
    answer(httpserver, "We are sorry.")
    bad = run_now(**reply, model=remote)

    execute(bad)  # a re-delivered task: the run is finished, nothing is recorded again

    assert len(regressions()) == 2
