"""POST /resolve/batch/: the SDK's revalidation. Only what changed is answered, an experiment's
entry carries every arm with its bucket range, errors name the prompt, and a warm batch of
many prompts costs no query."""

import pytest
from django.core.cache import cache

from prompts import experiments
from prompts.lifecycle import prompt_retire
from prompts.resolve import assign
from prompts.services import deployment_set, version_create
from tests.api.conftest import problem, service_client
from tests.factories import NamespaceFactory, PromptFactory, system_actor

pytestmark = pytest.mark.django_db

URL = "/api/v1/resolve/batch/"


def _batch(client, *items, **body):
    return client.post(URL, {"prompts": list(items), **body}, format="json")


def test_a_first_batch_answers_every_prompt_and_a_second_only_what_changed(
    world, django_capture_on_commit_callbacks
):
    first = _batch(
        world.service,
        {"prompt": "support/greet"},
        {"prompt": "support/greet", "environment": "staging"},
    )
    assert first.status_code == 200
    body = first.json()
    answers = {item["environment"]: item for item in body["changed"]}
    assert body["unchanged"] == 0
    assert answers["production"]["answer"]["version"] == 1
    assert answers["staging"]["answer"]["version"] == 2
    single = world.get().json()
    assert answers["production"]["answer"] == single
    assert answers["production"]["etag"] == world.get()["ETag"]

    held = [
        {"prompt": "support/greet", "environment": env, "etag": item["etag"]}
        for env, item in answers.items()
    ]
    again = _batch(world.service, *held).json()
    assert again == {"changed": [], "unchanged": 2}

    with django_capture_on_commit_callbacks(execute=True):
        world.deploy("production", 2)
    after = _batch(world.service, *held).json()
    assert after["unchanged"] == 1
    (changed,) = after["changed"]
    assert (changed["environment"], changed["answer"]["version"]) == ("production", 3)


def test_pinned_versions_and_defaults(world):
    body = _batch(
        world.service, {"prompt": "support/greet", "version": 2}, environment="development"
    ).json()
    (item,) = body["changed"]
    assert (item["environment"], item["version"], item["answer"]["version"]) == (
        "development",
        2,
        2,
    )


def test_errors_answer_for_their_prompt_only(world):
    other = PromptFactory(namespace=NamespaceFactory(slug="elsewhere"), name="theirs")
    PromptFactory(namespace=world.namespace, name="undeployed")
    body = _batch(
        world.service,
        {"prompt": "support/greet"},
        {"prompt": other.full_name},
        {"prompt": "support/undeployed"},
        {"prompt": "support/nope"},
    ).json()
    by_name = {item["prompt"]: item for item in body["changed"]}
    assert by_name["support/greet"]["status"] == 200
    assert by_name[other.full_name]["status"] == 404  # not visible: not revealed either
    assert by_name["support/undeployed"]["problem"]["code"] == "not_deployed"
    assert by_name["support/nope"]["status"] == 404


def test_a_retired_prompt_answers_410_with_its_successor(world, django_capture_on_commit_callbacks):
    held = _batch(world.service, {"prompt": "support/greet"}).json()["changed"][0]["etag"]
    with django_capture_on_commit_callbacks(execute=True):
        prompt_retire(actor=world.admin, prompt=world.prompt, reason="replaced")

    (item,) = _batch(world.service, {"prompt": "support/greet", "etag": held}).json()["changed"]
    assert item["status"] == 410
    assert item["problem"]["code"] == "retired"
    assert "answer" not in item


def test_a_running_experiment_sends_every_arm_and_the_client_hash_matches(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        world.deploy("development", 0)  # v1 ran in the environment below staging
        experiment = experiments.experiment_create(
            actor=world.admin,
            prompt=world.prompt,
            environment=world.env["staging"],
            arms=[{"version": 2, "weight": 70}, {"version": 1, "weight": 30}],
            hypothesis="shorter greets",
            primary_metric="feedback",
            guardrails=[],
        )
        experiments.experiment_start(actor=world.admin, experiment=experiment)

    (item,) = _batch(world.service, {"prompt": "support/greet", "environment": "staging"}).json()[
        "changed"
    ]
    assert item["answer"] is None
    split = item["experiment"]
    assert split["id"] == experiment.pk
    assert [(a["arm"], a["lo"], a["hi"]) for a in split["arms"]] == [
        ("A", 0, 7000),
        ("B", 7000, 10_000),
    ]
    for subject in ("ada", "bo", "cy", "dee", "eve", "fay"):
        bucket = assign.bucket_of(experiment.pk, subject)
        mine = next(a for a in split["arms"] if a["lo"] <= bucket < a["hi"])
        served = world.service.get(
            "/api/v1/resolve/support/greet/", {"environment": "staging", "subject": subject}
        )
        assert served.json() == mine["answer"]
        assert served["ETag"] == mine["etag"]

    held = {"prompt": "support/greet", "environment": "staging", "etag": item["etag"]}
    assert _batch(world.service, held).json() == {"changed": [], "unchanged": 1}


def test_a_warm_batch_of_many_prompts_makes_no_query(
    world, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(40):
            prompt = PromptFactory(namespace=world.namespace, name=f"p{i}")
            version = version_create(prompt=prompt, author=world.admin, template=f"v {i}")
            deployment_set(
                prompt=prompt,
                environment=world.env["production"],
                version=version,
                actor=world.admin,
                action="deployment.seeded",
            )
    items = [{"prompt": f"support/p{i}"} for i in range(40)]
    etags = {x["prompt"]: x["etag"] for x in _batch(world.service, *items).json()["changed"]}
    held = [{**item, "etag": etags[item["prompt"]]} for item in items]
    _batch(world.service, *held)  # the token's lookup is cached now too

    with django_assert_max_num_queries(0):
        assert _batch(world.service, *held).json() == {"changed": [], "unchanged": 40}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "prompts"),
        ({"prompts": []}, "prompts"),
        ({"prompts": [{"prompt": "nope"}]}, "prompts.0.prompt"),
        ({"prompts": [{"prompt": "support/greet", "version": "2"}]}, "prompts.0.version"),
        ({"prompts": [{"prompt": "support/greet", "extra": 1}]}, "prompts.0.extra"),
        ({"prompts": [{"prompt": "support/greet"}] * 1001}, "prompts"),
        ({"prompts": [{"prompt": "support/greet"}], "environment": "Prod!"}, "environment"),
    ],
)
def test_malformed_batches_are_problems_naming_the_field(world, body, field):
    response = world.service.post(URL, body, format="json")
    assert response.status_code == 422
    assert field in problem(response)["errors"]


def test_anonymous_callers_are_refused(client, world):
    cache.clear()
    response = client.post(URL, {"prompts": [{"prompt": "support/greet"}]}, "application/json")
    assert response.status_code in (401, 403)
    other = service_client(actor=system_actor(), namespaces=[NamespaceFactory(slug="away")])
    (item,) = _batch(other, {"prompt": "support/greet"}).json()["changed"]
    assert item["status"] == 404
