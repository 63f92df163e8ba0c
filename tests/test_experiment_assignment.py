"""Sticky arm assignment: the split follows the weights, a subject keeps its arm for the whole
experiment whatever other subjects do, what is cached is per arm, and a warm resolve with a
running experiment still makes no database query."""

import hashlib
import itertools
import random

import pytest

from prompts import experiments
from prompts.models import Deployment, Environment, Experiment, ExperimentArm
from prompts.resolve import assign
from prompts.services import deployment_set
from tests.api.conftest import service_client
from tests.factories import system_actor

pytestmark = pytest.mark.django_db


def test_the_bucket_is_sha256_of_id_and_subject_modulo_10000():
    expected = int(hashlib.sha256(b"42:user-7").hexdigest(), 16) % 10_000
    assert assign.bucket_of(42, "user-7") == expected


def test_ten_thousand_subjects_split_within_two_percent_of_the_weights():
    weights = [50, 30, 20]
    arms = [
        {"arm": label, "lo": lo, "hi": hi}
        for label, (lo, hi) in zip("ABC", assign.arm_ranges(weights), strict=True)
    ]
    counts = {"A": 0, "B": 0, "C": 0}
    for i in range(10_000):
        counts[assign.pick(arms, assign.bucket_of(7, f"subject-{i}"))["arm"]] += 1
    for label, weight in zip("ABC", weights, strict=True):
        assert abs(counts[label] / 10_000 - weight / 100) <= 0.02, counts


def test_ranges_are_consecutive_and_cover_every_bucket():
    assert assign.arm_ranges([70, 30]) == [(0, 7000), (7000, 10_000)]
    ranges = assign.arm_ranges([33, 33, 34])
    assert ranges[0][0] == 0
    assert ranges[-1][1] == 10_000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))


def test_without_a_subject_the_arm_is_random_per_call():
    random.seed(3)
    buckets = {assign.bucket_of(7, None) for _ in range(50)}
    assert len(buckets) > 40


@pytest.fixture
def running(prompt, make_version, author):
    """support/greet: v1 in production, v2 tried in staging; a 50/50 experiment runs."""
    admin = system_actor()
    v1, v2 = make_version(prompt, "Hello {{name}}"), make_version(prompt, "Hi {{name}}")
    staging, production = (Environment.objects.get(slug=s) for s in ("staging", "production"))
    deployment_set(prompt=prompt, environment=staging, version=v2, actor=admin, action="test")
    deployment_set(prompt=prompt, environment=production, version=v1, actor=admin, action="t")
    experiment = Experiment.objects.create(
        prompt=prompt,
        environment=production,
        hypothesis="h",
        primary_metric="feedback",
        created_by=author,
        state=Experiment.State.PENDING,
    )
    ExperimentArm.objects.create(
        experiment=experiment, label="A", version=v1, weight=50, is_control=True
    )
    ExperimentArm.objects.create(experiment=experiment, label="B", version=v2, weight=50)
    experiments.experiment_start(actor=admin, experiment=experiment)
    return experiment


def _client(prompt):
    return service_client(actor=system_actor(), namespaces=[prompt.namespace])


def test_a_subject_keeps_its_arm_while_other_subjects_come_and_go(running, prompt):
    client = _client(prompt)
    url = f"/api/v1/resolve/{prompt.full_name}/?environment=production&subject="
    first = {f"s{i}": client.get(url + f"s{i}").json()["experiment"]["arm"] for i in range(60)}
    for i in range(60, 200):  # new subjects arrive
        client.get(url + f"s{i}")
    again = {f"s{i}": client.get(url + f"s{i}").json()["experiment"]["arm"] for i in range(60)}
    assert first == again
    assert set(first.values()) == {"A", "B"}
    expected = {
        s: "A" if assign.bucket_of(running.pk, s) < 5000 else "B" for s in first
    }  # exactly the documented hash: the client SDK computes the same
    assert first == expected


def test_the_warm_path_with_an_experiment_makes_no_query(
    running, prompt, django_assert_num_queries, django_assert_max_num_queries
):
    client = _client(prompt)
    url = f"/api/v1/resolve/{prompt.full_name}/?environment=production&subject="
    with django_assert_max_num_queries(6):
        client.get(url + "warm-up")
    with django_assert_num_queries(0):
        answers = [client.get(url + f"u{i}") for i in range(20)]
    assert {a.json()["experiment"]["arm"] for a in answers} == {"A", "B"}
    # cached per arm: two answers, two ETags, whatever the number of subjects
    assert len({a["ETag"] for a in answers}) == 2


def test_a_pinned_version_and_an_if_none_match_per_arm(running, prompt):
    client = _client(prompt)
    pinned = client.get(f"/api/v1/resolve/{prompt.full_name}/?environment=production&version=2")
    assert pinned.json()["experiment"] is None  # a pinned version is not part of the split
    url = f"/api/v1/resolve/{prompt.full_name}/?environment=production&subject=ada"
    answer = client.get(url)
    assert client.get(url, HTTP_IF_NONE_MATCH=answer["ETag"]).status_code == 304
    assert Deployment.objects.get(prompt=prompt, environment__slug="production").version.number == 1
