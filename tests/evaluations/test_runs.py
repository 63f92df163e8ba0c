"""Runs through the API, executed eagerly (the outbox queues the task after commit): states,
per-case results in the suite's order, provider errors on their case, re-delivery, resume,
cancel, the judge, the `run_finished` hook and the audit trail."""

import json
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient
from werkzeug import Response

from portal.audit.models import AuditEntry
from portal.errors import Conflict
from prompts.evaluations import hooks, runs
from prompts.evaluations.models import CaseResult, Model, Run, Suite
from prompts.services import version_create
from tests.factories import MembershipFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(namespace, author):
    prompt = PromptFactory(namespace=namespace, name="greet")
    version = version_create(
        prompt=prompt, author=author, template="Hello {{name}}!", variables=["name"]
    )
    client = APIClient()
    client.force_authenticate(author)
    return {"prompt": prompt, "version": version, "author": author, "client": client}


def make_suite(prompt, author, cases, *, name="smoke", pass_threshold=1.0) -> Suite:
    suite = Suite.objects.create(
        prompt=prompt, name=name, created_by=author, pass_threshold=pass_threshold
    )
    for position, (variables, assertions) in enumerate(cases, start=1):
        suite.cases.create(position=position, variables=variables, assertions=assertions)
    return suite


def contains(text: str) -> list[dict]:
    return [{"type": "contains", "value": text}]


def start(client, suite, *, model="local", version=1, capture=None) -> dict:
    body = {"prompt": "support/greet", "version": version, "suite": suite.pk, "model": model}
    with capture(execute=True):
        response = client.post("/api/v1/evaluations/", body, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def test_a_run_is_queued_then_passes_with_one_result_per_case_in_order(
    world, django_capture_on_commit_callbacks
):
    suite = make_suite(
        world["prompt"],
        world["author"],
        [({"name": n}, contains(n)) for n in ("Ada", "Bob", "Cy")],
    )
    created = start(world["client"], suite, capture=django_capture_on_commit_callbacks)
    assert created["state"] == "queued"
    assert created["total"] == 3
    assert created["offline_echo"] is True

    run = world["client"].get(f"/api/v1/evaluations/{created['id']}/").json()

    assert run["state"] == "passed"
    assert (run["done"], run["total"], run["passed_cases"], run["pass_rate"]) == (3, 3, 3, 1.0)
    assert [r["position"] for r in run["results"]] == [1, 2, 3]
    first = run["results"][0]
    assert first["rendered"] == first["output"] == "Hello Ada!"
    assert first["passed"] is True
    assert first["score"] == 1
    assert first["assertions"][0]["type"] == "contains"
    assert first["input_tokens"] > 0
    assert first["error"] == ""
    assert run["mean_latency_ms"] is not None
    assert run["total_cost_usd"] == 0
    actions = list(
        AuditEntry.objects.filter(object_type="evaluation_run").values_list("action", flat=True)
    )
    assert actions == ["evaluation.run_created", "evaluation.run_finished"]


def test_a_run_below_the_threshold_fails_and_says_why_each_assertion_failed(
    world, django_capture_on_commit_callbacks
):
    suite = make_suite(
        world["prompt"],
        world["author"],
        [({"name": "Ada"}, contains("Ada")), ({"name": "Bob"}, contains("Goodbye"))],
        pass_threshold=0.6,
    )
    created = start(world["client"], suite, capture=django_capture_on_commit_callbacks)
    run = world["client"].get(f"/api/v1/evaluations/{created['id']}/").json()

    assert run["state"] == "failed"
    assert run["pass_rate"] == 0.5
    failing = run["results"][1]
    assert failing["passed"] is False
    assert "Goodbye" in failing["assertions"][0]["reason"]


def test_a_threshold_below_the_pass_rate_passes(world, django_capture_on_commit_callbacks):
    suite = make_suite(
        world["prompt"],
        world["author"],
        [({"name": "Ada"}, contains("Ada")), ({"name": "Bob"}, contains("Goodbye"))],
        pass_threshold=0.5,
    )
    created = start(world["client"], suite, capture=django_capture_on_commit_callbacks)
    assert Run.objects.get(pk=created["id"]).state == "passed"


def test_a_run_whose_version_never_renders_is_an_error(world, django_capture_on_commit_callbacks):
    suite = make_suite(
        world["prompt"],
        world["author"],
        [({"nom": "Ada"}, contains("Ada")), ({}, contains("Bob"))],
    )
    created = start(world["client"], suite, capture=django_capture_on_commit_callbacks)
    run = world["client"].get(f"/api/v1/evaluations/{created['id']}/").json()

    assert run["state"] == "error"
    assert run["error"].startswith("No case could run.")
    assert all("does not render" in r["error"] for r in run["results"])
    assert "missing: name" in run["results"][0]["error"]


def test_a_chat_prompt_renders_its_messages(namespace, author):
    prompt = PromptFactory(namespace=namespace, name="chat", kind="chat")
    version = version_create(
        prompt=prompt,
        author=author,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi {{name}}"},
        ],
        variables=["name"],
    )
    assert runs.render_for(version, {"name": "Ada"}) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi Ada"},
    ]


@pytest.fixture
def remote(httpserver, settings, monkeypatch):
    settings.PROVIDER_ALLOW_PRIVATE = True
    settings.PROVIDER_TIMEOUT_SECONDS = 1
    settings.PROVIDER_MAX_RETRIES = 0
    monkeypatch.setenv("TEST_PROVIDER_API_KEY", "sk-test-key")
    return Model.objects.create(
        name="gpt-test",
        provider="openai",
        provider_model_id="gpt-test",
        base_url=httpserver.url_for("/v1"),
        api_key_env="TEST_PROVIDER_API_KEY",
        price_in_per_million=Decimal("1000"),
        price_out_per_million=Decimal("1000"),
    )


def chat_answer(text: str) -> dict:
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-test",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def test_a_provider_error_is_recorded_on_its_case_and_the_run_goes_on(
    world, remote, httpserver, django_capture_on_commit_callbacks
):
    def answer(request):
        said = json.loads(request.data)["messages"][-1]["content"]
        if "Bob" in said:
            return Response("upstream down", status=500)
        return Response(json.dumps(chat_answer(f"Hi {said}")), content_type="application/json")

    httpserver.expect_request("/v1/chat/completions").respond_with_handler(answer)
    suite = make_suite(
        world["prompt"],
        world["author"],
        [({"name": n}, contains("Hi")) for n in ("Ada", "Bob", "Cy")],
    )
    created = start(
        world["client"], suite, model="gpt-test", capture=django_capture_on_commit_callbacks
    )
    run = world["client"].get(f"/api/v1/evaluations/{created['id']}/").json()

    assert run["state"] == "failed"
    assert run["offline_echo"] is False
    assert [r["passed"] for r in run["results"]] == [True, False, True]
    assert run["results"][1]["error"]
    assert run["results"][0]["error"] == ""
    assert "sk-test-key" not in json.dumps(run)
    assert run["results"][0]["cost_usd"] == pytest.approx(0.015)
    assert run["total_cost_usd"] == pytest.approx(0.03)


def test_llm_rubric_is_judged_by_the_model_its_provider_names(
    world, remote, httpserver, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/v1/chat/completions").respond_with_json(
        chat_answer(
            "```json\n" + json.dumps({"score": 0.9, "reason": "Friendly and short."}) + "\n```"
        )
    )
    rubric = [{"type": "llm-rubric", "value": "is friendly", "provider": "gpt-test"}]
    suite = make_suite(
        world["prompt"],
        world["author"],
        [({"name": "Ada"}, rubric), ({"name": "Bob"}, [{"type": "llm-rubric", "value": "nice"}])],
        pass_threshold=0.5,
    )
    created = start(world["client"], suite, capture=django_capture_on_commit_callbacks)
    results = world["client"].get(f"/api/v1/evaluations/{created['id']}/").json()["results"]

    assert results[0]["passed"] is True
    assert results[0]["assertions"][0]["reason"] == "Friendly and short."
    # the run's own model judges the second: `local` echoes the grading prompt, not JSON
    assert results[1]["passed"] is False
    assert "did not answer with the JSON" in results[1]["assertions"][0]["reason"]
    grading = json.loads(httpserver.log[0][0].data)["messages"]
    assert grading[0]["role"] == "system"
    assert "is friendly" in grading[1]["content"]


def test_a_redelivered_task_records_only_the_missing_cases(world):
    suite = make_suite(
        world["prompt"],
        world["author"],
        [({"name": n}, contains(n)) for n in ("Ada", "Bob", "Cy", "Di")],
    )
    run = runs.run_create(
        actor=world["author"],
        prompt=world["prompt"],
        version=world["version"],
        suite=suite,
        model=Model.objects.get(name="local"),
    )  # the test's transaction never commits: the task is not queued
    Run.objects.filter(pk=run.pk).update(state="running")
    CaseResult.objects.create(run=run, position=2, output="recorded before", passed=True)

    runs.run_execute(run_id=run.pk)
    runs.run_execute(run_id=run.pk)  # delivered again after it finished: nothing changes

    results = list(run.results.order_by("position").values_list("position", "output"))
    assert results == [
        (1, "Hello Ada!"),
        (2, "recorded before"),
        (3, "Hello Cy!"),
        (4, "Hello Di!"),
    ]
    run.refresh_from_db()
    assert (run.state, run.done, run.passed_cases) == ("passed", 4, 4)
    assert AuditEntry.objects.filter(action="evaluation.run_finished").count() == 1


def test_cancel_stops_a_queued_run_and_a_finished_run_cannot_be_cancelled(world):
    suite = make_suite(world["prompt"], world["author"], [({"name": "Ada"}, contains("Ada"))])
    local = Model.objects.get(name="local")
    args = {"prompt": world["prompt"], "version": world["version"], "suite": suite, "model": local}
    run = runs.run_create(actor=world["author"], **args)

    response = world["client"].post(f"/api/v1/evaluations/{run.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    runs.run_execute(run_id=run.pk)  # the task arrives later: it leaves the run alone
    assert not run.results.exists()
    assert Run.objects.get(pk=run.pk).state == "cancelled"
    again = world["client"].post(f"/api/v1/evaluations/{run.pk}/cancel/")
    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"
    with pytest.raises(Conflict):
        runs.run_cancel(actor=None, run=run)


def test_the_hook_hears_each_finished_run_once(world, django_capture_on_commit_callbacks):
    heard = []

    def listener(*, run):
        heard.append((run.pk, run.state))

    hooks.run_finished.register(listener)
    try:
        suite = make_suite(world["prompt"], world["author"], [({"name": "Ada"}, contains("A"))])
        created = start(world["client"], suite, capture=django_capture_on_commit_callbacks)
        runs.run_execute(run_id=created["id"])
    finally:
        hooks.run_finished._functions.remove(listener)
    assert heard == [(created["id"], "passed")]


def test_the_portal_itself_may_start_a_run(world):
    suite = make_suite(world["prompt"], world["author"], [({"name": "Ada"}, contains("A"))])
    run = runs.run_create(
        actor=None,
        prompt=world["prompt"],
        version=world["version"],
        suite=suite,
        model=Model.objects.get(name="local"),
        trigger="schedule",
    )
    assert run.requested_by is None
    assert run.trigger == "schedule"
    assert run.state == "queued"


def test_bad_requests_name_the_field(world):
    suite = make_suite(world["prompt"], world["author"], [({"name": "Ada"}, contains("A"))])
    empty = Suite.objects.create(prompt=world["prompt"], name="empty", created_by=world["author"])
    post = world["client"].post
    cases = {
        "version": {"version": 9, "suite": suite.pk, "model": "local"},
        "suite": {"version": 1, "suite": "nope", "model": "local"},
        "model": {"version": 1, "suite": suite.pk, "model": "gpt-99"},
    }
    for field, body in cases.items():
        response = post("/api/v1/evaluations/", {"prompt": "support/greet", **body}, format="json")
        assert response.status_code == 422, (field, response.content)
        assert field in response.json()["errors"]
    by_name = {"prompt": "support/greet", "version": 1, "suite": "empty", "model": "local"}
    response = post("/api/v1/evaluations/", by_name, format="json")
    assert response.status_code == 422
    assert "no cases" in response.json()["detail"]
    assert empty.runs.count() == 0
    assert not Run.objects.exists()


def test_the_list_filters_by_prompt_suite_model_and_state(world):
    suite = make_suite(world["prompt"], world["author"], [({"name": "Ada"}, contains("A"))])
    other = make_suite(world["prompt"], world["author"], [({"name": "B"}, [])], name="other")
    local = Model.objects.get(name="local")
    args = {"prompt": world["prompt"], "version": world["version"], "model": local}
    first = runs.run_create(actor=world["author"], suite=suite, **args)
    runs.run_create(actor=world["author"], suite=other, **args)
    runs.run_cancel(actor=world["author"], run=first)
    get = world["client"].get

    assert get("/api/v1/evaluations/").json()["count"] == 2
    assert get("/api/v1/evaluations/?prompt=support/greet&model=local").json()["count"] == 2
    assert get("/api/v1/evaluations/?prompt=support/other").json()["count"] == 0
    assert get(f"/api/v1/evaluations/?suite={other.pk}").json()["count"] == 1
    assert [r["id"] for r in get("/api/v1/evaluations/?state=cancelled").json()["results"]] == [
        first.pk
    ]
    assert get("/api/v1/evaluations/?state=nope").status_code == 422


def test_a_viewer_reads_but_may_not_start(world, django_capture_on_commit_callbacks):
    viewer = UserFactory(username="viewer")
    MembershipFactory(team=world["prompt"].namespace.team, user=viewer, role="viewer")
    suite = make_suite(world["prompt"], world["author"], [({"name": "Ada"}, contains("A"))])
    created = start(world["client"], suite, capture=django_capture_on_commit_callbacks)
    client = APIClient()
    client.force_authenticate(viewer)

    assert client.get(f"/api/v1/evaluations/{created['id']}/").status_code == 200
    body = {"prompt": "support/greet", "version": 1, "suite": suite.pk, "model": "local"}
    assert client.post("/api/v1/evaluations/", body, format="json").status_code == 403
    assert client.post(f"/api/v1/evaluations/{created['id']}/cancel/").status_code == 403
    assert Run.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_run_cancelled_while_it_runs_stops_between_cases(
    namespace, author, remote, httpserver, settings
):
    """The provider's server cancels the run (another connection, as a person would) while it
    answers the second case: the worker records what is in flight and starts nothing more."""
    settings.EVALUATION_CONCURRENCY = 1
    prompt = PromptFactory(namespace=namespace, name="greet")
    version = version_create(
        prompt=prompt, author=author, template="Hi {{name}}", variables=["name"]
    )
    suite = make_suite(prompt, author, [({"name": f"n{n}"}, contains("Hi")) for n in range(6)])
    run = Run.objects.create(
        prompt=prompt, version=version, suite=suite, model=remote, total=6, requested_by=author
    )
    calls = []

    def answer(request):
        calls.append(request)
        if len(calls) == 2:
            runs.run_cancel(actor=author, run=Run.objects.get(pk=run.pk))
            connection.close()
        return Response(json.dumps(chat_answer("Hi there")), content_type="application/json")

    httpserver.expect_request("/v1/chat/completions").respond_with_handler(answer)

    runs.run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.state == "cancelled"
    assert len(calls) == 2
    assert list(run.results.values_list("position", flat=True)) == [1, 2]
    assert run.done == 2
    assert AuditEntry.objects.filter(action="evaluation.run_cancelled").count() == 1
    assert not AuditEntry.objects.filter(action="evaluation.run_finished").exists()


def test_a_run_whose_task_gives_up_ends_as_an_error_with_what_it_recorded(world):
    suite = make_suite(
        world["prompt"], world["author"], [({"name": n}, contains(n)) for n in ("Ada", "Bob")]
    )
    run = runs.run_create(
        actor=world["author"],
        prompt=world["prompt"],
        version=world["version"],
        suite=suite,
        model=Model.objects.get(name="local"),
    )
    CaseResult.objects.create(run=run, position=1, output="Hello Ada!", passed=True)

    runs.run_fail(run_id=run.pk, error="The run did not finish within 2970 s.")
    runs.run_fail(run_id=run.pk, error="again")  # finished: left alone

    run.refresh_from_db()
    assert (run.state, run.done, run.passed_cases, run.pass_rate) == ("error", 1, 1, 0.5)
    assert run.error == "The run did not finish within 2970 s."
    assert AuditEntry.objects.filter(action="evaluation.run_finished").count() == 1
