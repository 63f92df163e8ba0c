"""The version × model matrix (API and page: one table per suite, the latest finished run per
cell, coloured by pass rate with the number in the cell) and the comparison of two runs case
by case (output diff, assertion changes)."""

import re

import pytest
from django.test import Client

from prompts.evaluations import runs
from prompts.evaluations.matrix import band
from prompts.evaluations.models import Case, Model, Run
from prompts.services import version_create
from tests.api.conftest import personal_client
from tests.evaluations.schedule_helpers import (
    echo_model,
    execute,
    prompt_with_versions,
    run_now,
    suite,
)
from tests.factories import MembershipFactory, TeamFactory, UserFactory, system_actor

pytestmark = pytest.mark.django_db

CASES = [
    ({"name": "Ada"}, [{"type": "contains", "value": "Ada"}]),
    ({"name": "Bob"}, [{"type": "contains", "value": "Hello"}]),
    (
        {"name": "Cy"},
        [{"type": "starts-with", "value": "Hello"}, {"type": "contains", "value": "Cy"}],
    ),
]


@pytest.fixture
def world():
    team = TeamFactory(slug="alpha")
    member = UserFactory(username="member")
    MembershipFactory(team=team, user=member, role="viewer")
    prompt, (v1, v2) = prompt_with_versions(
        team=team,
        namespace="alpha",
        name="greet",
        versions=[("Hello {{name}}", {"model": "local"}), ("Hi {{name}}", {"model": "local"})],
    )
    smoke = suite(prompt, "smoke", CASES)
    local, other = Model.objects.get(name="local"), echo_model("echo-two")
    return {
        "prompt": prompt,
        "v1": v1,
        "v2": v2,
        "suite": smoke,
        "local": local,
        "other": other,
        "member": member,
    }


def matrix(client, **query) -> dict:
    response = client.get("/api/v1/prompts/alpha/greet/evaluations/matrix/", query)
    assert response.status_code == 200, response.content
    return response.json()


def cells(answer: dict, suite: int = 0) -> dict[tuple[int, str], dict]:
    return {(c["version"], c["model"]): c for c in answer["suites"][suite]["cells"]}


def test_each_cell_is_the_latest_finished_run_of_its_version_and_model(world):
    w = world
    run_now(prompt=w["prompt"], version=w["v1"], suite=w["suite"], model=w["local"])
    latest = run_now(prompt=w["prompt"], version=w["v1"], suite=w["suite"], model=w["local"])
    v2 = run_now(prompt=w["prompt"], version=w["v2"], suite=w["suite"], model=w["local"])
    queued = runs.run_create(
        actor=None, prompt=w["prompt"], version=w["v2"], suite=w["suite"], model=w["local"]
    )
    cancelled = runs.run_create(
        actor=None, prompt=w["prompt"], version=w["v1"], suite=w["suite"], model=w["other"]
    )
    runs.run_cancel(actor=None, run=cancelled)

    answer = matrix(personal_client(w["member"]))

    assert answer["prompt"] == "alpha/greet"
    assert answer["aggregation"] == "per suite"
    (smoke,) = answer["suites"]
    assert smoke["suite"] == {"id": w["suite"].pk, "name": "smoke"}
    assert smoke["versions"] == [2, 1]
    assert smoke["models"] == [
        {"name": "local", "provider": "echo", "label": "offline echo, not a language model"}
    ]  # the cancelled run on echo-two is no cell
    found = cells(answer)
    assert set(found) == {(1, "local"), (2, "local")}
    one, two = found[(1, "local")], found[(2, "local")]
    assert one["run"] == latest.pk
    assert one["url"] == f"http://testserver/api/v1/evaluations/{latest.pk}/"
    assert one["page"] == f"http://testserver/evaluations/runs/{latest.pk}/"
    assert (one["state"], one["pass_rate"], one["band"]) == ("passed", 1.0, "good")
    assert (one["passed_cases"], one["total"], one["total_cost_usd"]) == (3, 3, 0.0)
    assert one["mean_latency_ms"] is not None
    # v2 says "Hi": cases 2 and 3 fail, one in three passes
    assert two["run"] == v2.pk != queued.pk
    assert (two["state"], two["band"]) == ("failed", "poor")
    assert two["pass_rate"] == pytest.approx(1 / 3)


def test_the_matrix_grows_with_a_second_model_and_keeps_suites_apart(world):
    w = world
    run_now(prompt=w["prompt"], version=w["v1"], suite=w["suite"], model=w["local"])
    tone = suite(w["prompt"], "tone", CASES[:1])
    run_now(prompt=w["prompt"], version=w["v1"], suite=tone, model=w["other"])
    client = personal_client(w["member"])
    before = matrix(client)

    run_now(prompt=w["prompt"], version=w["v1"], suite=w["suite"], model=w["other"])

    after = matrix(client)
    assert [s["suite"]["name"] for s in after["suites"]] == ["smoke", "tone"]
    assert set(cells(before)) == {(1, "local")}
    assert set(cells(after)) == {(1, "local"), (1, "echo-two")}
    assert set(cells(after, 1)) == {(1, "echo-two")}
    only_tone = matrix(client, suite=tone.pk)
    assert [s["suite"]["name"] for s in only_tone["suites"]] == ["tone"]


def test_a_suite_that_is_not_the_prompts_is_a_422(world):
    client = personal_client(world["member"])
    for given in ("987654", "x", "-1"):
        response = client.get("/api/v1/prompts/alpha/greet/evaluations/matrix/", {"suite": given})
        assert response.status_code == 422
        assert response["Content-Type"] == "application/problem+json"
        assert "suite" in response.json()["errors"]


def test_bands_follow_the_threshold():
    assert band(pass_rate=1.0, threshold=1.0) == "good"
    assert band(pass_rate=0.85, threshold=1.0) == "fair"
    assert band(pass_rate=0.79, threshold=1.0) == "poor"
    assert band(pass_rate=0.6, threshold=0.5) == "good"
    assert band(pass_rate=None, threshold=1.0) == "none"


# --- the page -------------------------------------------------------------------------------


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_a_coloured_table_with_the_numbers(world):
    w = world
    good = run_now(prompt=w["prompt"], version=w["v1"], suite=w["suite"], model=w["local"])
    poor = run_now(prompt=w["prompt"], version=w["v2"], suite=w["suite"], model=w["other"])

    response = signed_in(w["member"]).get("/prompts/alpha/greet/evaluations/matrix/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Suite smoke" in html
    assert re.search(rf'class="band-good" data-model="local" data-run="{good.pk}"', html)
    assert re.search(rf'class="band-poor" data-model="echo-two" data-run="{poor.pk}"', html)
    assert f'href="/evaluations/runs/{good.pk}/">100 %</a>' in html
    assert f'href="/evaluations/runs/{poor.pk}/">33 %</a>' in html
    assert "(offline echo, not a language model)" in html
    assert "not run" in html  # v1 on echo-two, v2 on local
    assert 'action="/evaluations/compare/"' in html


def test_the_page_is_404_for_who_may_not_read_the_prompt(world):
    outsider = UserFactory(username="outsider")
    assert signed_in(outsider).get("/prompts/alpha/greet/evaluations/matrix/").status_code == 404
    anonymous = Client().get("/prompts/alpha/greet/evaluations/matrix/")
    assert anonymous.status_code == 302


# --- compare --------------------------------------------------------------------------------


def test_compare_shows_each_cases_output_diff_and_the_assertions_that_changed(world):
    w = world
    a = run_now(prompt=w["prompt"], version=w["v1"], suite=w["suite"], model=w["local"])
    b = run_now(prompt=w["prompt"], version=w["v2"], suite=w["suite"], model=w["local"])

    response = signed_in(w["member"]).get("/evaluations/compare/", {"a": a.pk, "b": b.pk})

    assert response.status_code == 200
    html = response.content.decode()
    assert f"Run {a.pk} against run {b.pk}" in html
    assert "3 cases; 2 changed their verdicts." in html
    pairs = response.context["pairs"]
    assert [(p.position, p.verdict_changed, p.assertion_changes) for p in pairs] == [
        (1, False, 0),
        (2, True, 1),
        (3, True, 1),
    ]
    assert "<del>Hello</del>" in html
    assert "<ins>Hi</ins>" in html
    third = pairs[2].assertions
    assert [(c.type, c.a_passed, c.b_passed, c.changed) for c in third] == [
        ("starts-with", True, False, True),
        ("contains", True, True, False),
    ]
    assert third[0].b_reason


def test_compare_pairs_cases_of_an_edited_suite(world):
    w = world
    a = run_now(prompt=w["prompt"], version=w["v1"], suite=w["suite"], model=w["local"])
    Case.objects.create(suite=w["suite"], position=4, variables={"name": "Di"}, assertions=[])
    b = run_now(prompt=w["prompt"], version=w["v1"], suite=w["suite"], model=w["other"])

    response = signed_in(w["member"]).get("/evaluations/compare/", {"a": a.pk, "b": b.pk})

    pairs = response.context["pairs"]
    assert [(p.position, p.a is not None, p.b is not None) for p in pairs] == [
        (1, True, True),
        (2, True, True),
        (3, True, True),
        (4, False, True),
    ]
    assert pairs[0].same_output
    assert "not in run A" in response.content.decode()


def test_compare_is_404_for_a_run_the_user_may_not_read_and_400_without_two_ids(world):
    w = world
    mine = run_now(prompt=w["prompt"], version=w["v1"], suite=w["suite"], model=w["local"])
    beta = TeamFactory(slug="beta")
    theirs_prompt, (tv,) = prompt_with_versions(
        team=beta, namespace="beta", name="secret", versions=[("Hello {{name}}", {})]
    )
    theirs = run_now(
        prompt=theirs_prompt, version=tv, suite=suite(theirs_prompt, "s", CASES), model=w["local"]
    )
    client = signed_in(w["member"])

    assert client.get("/evaluations/compare/", {"a": mine.pk, "b": theirs.pk}).status_code == 404
    assert client.get("/evaluations/compare/", {"a": theirs.pk, "b": mine.pk}).status_code == 404
    assert client.get("/evaluations/compare/", {"a": mine.pk}).status_code == 400
    assert client.get("/evaluations/compare/", {"a": "x", "b": "1"}).status_code == 400
    staff = signed_in(UserFactory(username="staff-person", is_staff=True))
    assert staff.get("/evaluations/compare/", {"a": mine.pk, "b": theirs.pk}).status_code == 200


def test_a_run_still_running_is_not_in_the_matrix(world):
    w = world
    queued = runs.run_create(
        actor=None, prompt=w["prompt"], version=w["v1"], suite=w["suite"], model=w["local"]
    )
    assert matrix(personal_client(w["member"]))["suites"][0]["cells"] == []

    execute(queued)

    assert cells(matrix(personal_client(w["member"])))[(1, "local")]["run"] == queued.pk
    assert Run.objects.get(pk=queued.pk).state == "passed"
    version_create(prompt=w["prompt"], author=system_actor(), template="Yo", variables=[])
    assert matrix(personal_client(w["member"]))["suites"][0]["versions"] == [1]
