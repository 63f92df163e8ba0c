"""Guardrails: what `guardrails_clean` accepts, and `guardrails_evaluate` (the beat task) on
events posted through the API: a breach stops the experiment, resolve serves the control at
once, the stop is audited and the team told; no breach, too few events or a second run change
nothing."""

import pytest
from django_celery_beat.models import PeriodicTask

from portal.audit.models import AuditEntry
from portal.errors import Invalid
from prompts import experiments
from prompts.metrics import guardrails, tasks
from prompts.metrics.guardrails import guardrails_clean, guardrails_evaluate
from prompts.models import Environment, Experiment
from prompts.services import deployment_set, version_create
from teams.notifications.events import EXPERIMENT_GUARDRAIL
from teams.notifications.models import Notification
from tests.api.conftest import service_client
from tests.factories import (
    MembershipFactory,
    NamespaceFactory,
    PromptFactory,
    UserFactory,
    system_actor,
)
from tests.metrics.conftest import event, post

pytestmark = pytest.mark.django_db

RESOLVE = "/api/v1/resolve/support/refund-reply/?environment=production"


class Lab:
    """support/refund-reply runs v1 in production; an experiment there splits it 50/50 with
    v2 (A: v1, the control; B: v2) under the given guardrails. The team has an owner."""

    def __init__(self, capture, guardrails_given):
        self.capture = capture
        admin = system_actor()
        namespace = NamespaceFactory(slug="support", visibility="internal")
        self.owner = UserFactory(username="owner")
        MembershipFactory(team=namespace.team, user=self.owner, role="owner")
        self.prompt = PromptFactory(namespace=namespace, name="refund-reply")
        v1, v2 = (
            version_create(prompt=self.prompt, author=admin, template=f"Hi v{n}") for n in (1, 2)
        )
        env = {e.slug: e for e in Environment.objects.all()}
        with capture(execute=True):
            for slug, version in (("staging", v2), ("production", v1)):
                deployment_set(
                    prompt=self.prompt,
                    environment=env[slug],
                    version=version,
                    actor=admin,
                    action="deployment.seeded",
                )
            experiment = Experiment.objects.create(
                prompt=self.prompt,
                environment=env["production"],
                hypothesis="v2 answers better",
                primary_metric="quality_score",
                guardrails=guardrails_clean(guardrails_given),
                created_by=admin,
            )
            experiment.arms.create(label="A", version=v1, weight=50, is_control=True)
            experiment.arms.create(label="B", version=v2, weight=50)
            self.experiment = experiments.experiment_start(actor=admin, experiment=experiment)
        self.service = service_client(actor=admin, namespaces=[namespace])

    def report(self, arm: str, n: int, **columns) -> None:
        version = {"A": 1, "B": 2}[arm]
        records = [
            event(
                version=version,
                experiment=self.experiment.pk,
                arm=arm,
                **{k: v(i) if callable(v) else v for k, v in columns.items()},
            )
            for i in range(n)
        ]
        for start in range(0, n, 1000):
            chunk = records[start : start + 1000]
            assert post(self.service, chunk).json()["accepted"] == len(chunk)

    def resolve(self, subject: str) -> dict:
        response = self.service.get(f"{RESOLVE}&subject={subject}")
        assert response.status_code == 200, response.content
        return response.json()

    def subject_in(self, arm: str) -> str:
        return next(f"user-{i}" for i in range(200) if self.subject_arm(f"user-{i}") == arm)

    def subject_arm(self, subject: str) -> str | None:
        about = self.resolve(subject)["experiment"]
        return about and about["arm"]

    def evaluate(self) -> list[guardrails.Breach]:
        with self.capture(execute=True):
            return guardrails_evaluate()

    def state(self) -> str:
        self.experiment.refresh_from_db()
        return self.experiment.state


@pytest.fixture
def lab(db, django_capture_on_commit_callbacks):
    return lambda given: Lab(django_capture_on_commit_callbacks, given)


ERRORS = [{"metric": "error_rate", "max_increase": 0.02}]


def every(k: int):
    """A column that is true for one call in k."""
    return lambda i: i % k == 0


def test_an_error_rate_breach_stops_the_experiment_and_resolve_serves_the_control(lab):
    lab = lab(ERRORS)
    in_b = lab.subject_in("B")
    assert lab.resolve(in_b)["version"] == 2
    lab.report("A", 1000, error=every(100))  # 1 %
    lab.report("B", 1000, error=every(8))  # 12.5 %

    breaches = lab.evaluate()

    assert [(b.metric, b.arm, b.control) for b in breaches] == [("error_rate", "B", "A")]
    assert breaches[0].ci_low > 0.02
    assert lab.state() == "stopped"
    assert lab.experiment.stop_cause == "guardrail"
    assert lab.experiment.stopped_by is None
    answer = lab.resolve(in_b)
    assert (answer["version"], answer["experiment"]) == (1, None)
    entry = AuditEntry.objects.get(action="experiment.stopped", object_id=str(lab.experiment.pk))
    assert entry.after["cause"] == "guardrail"
    assert "error_rate rose by 0.115" in entry.justification
    notification = Notification.objects.get(user=lab.owner, event=EXPERIMENT_GUARDRAIL)
    assert "B's error_rate rose" in notification.body
    assert "allowed increase 0.02" in notification.body


def test_running_twice_is_harmless(lab):
    lab = lab(ERRORS)
    lab.report("A", 1000, error=every(100))
    lab.report("B", 1000, error=every(8))
    assert len(lab.evaluate()) == 1

    assert lab.evaluate() == []
    assert tasks.evaluate_guardrails() == 0

    assert AuditEntry.objects.filter(action="experiment.stopped").count() == 1
    assert Notification.objects.filter(event=EXPERIMENT_GUARDRAIL).count() == 1


def test_no_breach_leaves_it_running(lab):
    lab = lab(ERRORS)
    in_b = lab.subject_in("B")
    lab.report("A", 1000, error=every(50))  # 2 %
    lab.report("B", 1000, error=every(40))  # 2.5 %: worse, but within the allowed 2 points

    assert lab.evaluate() == []

    assert lab.state() == "running"
    assert lab.resolve(in_b)["experiment"]["arm"] == "B"
    assert not Notification.objects.filter(event=EXPERIMENT_GUARDRAIL).exists()


def test_a_bad_start_with_too_few_calls_is_not_yet_a_breach(lab):
    lab = lab(ERRORS)
    lab.report("A", 60, error=False)
    lab.report("B", 60, error=True)  # every call fails, but 60 < MIN_OBSERVATIONS

    assert lab.evaluate() == []
    assert lab.state() == "running"


def test_a_quality_drop_beyond_the_allowed_decrease_stops_it(lab):
    lab = lab([{"metric": "quality_score", "max_decrease": 0.05}])
    lab.report("A", 400, quality_score=lambda i: 0.8 + (i % 5) / 50)  # mean 0.84
    lab.report("B", 400, quality_score=lambda i: 0.6 + (i % 5) / 50)  # mean 0.64

    (breach,) = lab.evaluate()

    assert (breach.metric, breach.bound) == ("quality_score", "max_decrease")
    assert breach.ci_high < -0.05
    assert lab.state() == "stopped"


def test_a_p95_latency_rise_stops_it(lab):
    lab = lab([{"metric": "latency_p95", "max_increase": 200}])
    lab.report("A", 1000, latency_ms=lambda i: 100 + (i % 100) * 4)  # p95 ≈ 480 ms
    lab.report("B", 1000, latency_ms=lambda i: 100 + (i % 100) * 12)  # p95 ≈ 1240 ms

    (breach,) = lab.evaluate()

    assert breach.metric == "latency_p95"
    assert breach.value - breach.control_value == pytest.approx(760, rel=0.05)
    assert lab.state() == "stopped"


def test_a_stop_made_meanwhile_by_someone_else_is_left_as_it_is(lab, monkeypatch):
    lab = lab(ERRORS)
    lab.report("A", 1000, error=every(100))
    lab.report("B", 1000, error=every(8))
    read = guardrails.experiment_metrics

    def read_then_someone_stops(*, experiment):
        experiments.experiment_stop(
            actor=None, experiment=experiment, cause="manual", reason="done by hand"
        )
        return read(experiment=experiment)

    monkeypatch.setattr(guardrails, "experiment_metrics", read_then_someone_stops)

    assert lab.evaluate() == []

    assert lab.state() == "stopped"
    assert lab.experiment.stop_cause == "manual"


def test_an_experiment_without_guardrails_is_not_read(lab, django_assert_num_queries):
    lab([])

    with django_assert_num_queries(1):  # the running experiments with guardrails: none
        assert guardrails_evaluate() == []


def test_the_task_is_on_the_beat_schedule():
    task = PeriodicTask.objects.get(task="prompts.metrics.tasks.evaluate_guardrails")
    assert (task.interval.every, task.interval.period) == (1, "minutes")


# guardrails_clean


def test_good_guardrails_are_kept_with_float_amounts():
    given = [
        {"metric": "error_rate", "max_increase": 0.02},
        {"metric": "quality_score", "max_decrease": 0.05},
        {"metric": "latency_p95", "max_increase": 200},
    ]

    assert guardrails_clean(given) == [
        {"metric": "error_rate", "max_increase": 0.02},
        {"metric": "quality_score", "max_decrease": 0.05},
        {"metric": "latency_p95", "max_increase": 200.0},
    ]
    assert guardrails_clean(None) == guardrails_clean([]) == []


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"metric": "error_rate"}, "must be a list"),
        (["error_rate"], "must be an object"),
        ([{"metric": "tokens", "max_increase": 1}], "metric must be one of"),
        ([{"metric": "quality_score", "max_increase": 0.1}], "sets max_decrease, not max_incr"),
        ([{"metric": "latency_ms", "max_decrease": 10}], "sets max_increase, not max_decrease"),
        ([{"metric": "error_rate"}], "needs max_increase"),
        ([{"metric": "error_rate", "max_increase": "0.1"}], "must be a number"),
        ([{"metric": "error_rate", "max_increase": True}], "must be a number"),
        ([{"metric": "error_rate", "max_increase": float("nan")}], "must be a number"),
        ([{"metric": "error_rate", "max_increase": 0}], "greater than 0"),
        ([{"metric": "error_rate", "max_increase": 1.5}], "must be below 1"),
        ([{"metric": "cost_usd", "max_increase": 1, "note": "x"}], "unknown key(s) 'note'"),
        (
            [{"metric": "cost_usd", "max_increase": 1}, {"metric": "cost_usd", "max_increase": 2}],
            "cost_usd is given twice",
        ),
        ([{"metric": "cost_usd", "max_increase": 1}] * 7, "At most 6"),
    ],
)
def test_bad_guardrails_are_refused_with_a_reason(given, message):
    with pytest.raises(Invalid) as refused:
        guardrails_clean(given)

    assert list(refused.value.errors) == ["guardrails"]
    assert message in refused.value.errors["guardrails"][0]
