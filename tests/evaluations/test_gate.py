"""The evaluation gate on promotions: refused without a run, with a stale or a failing one,
applied with a fresh passing one; a pending request with its approvals applies when the last
run passes; environments without `requires_evaluation` are unaffected; the request page's
panel and its "Run what is missing" button."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from approvals.models import PromotionRequest
from approvals.services import promotion_right_grant
from portal.audit.models import AuditEntry
from prompts.evaluations import runs
from prompts.evaluations.models import Case, Model, Suite
from prompts.models import Deployment, Environment
from prompts.services import deployment_set, version_create
from tests.api.conftest import personal_client, problem
from tests.factories import MembershipFactory, NamespaceFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db


class Gated:
    """Team alpha's prompt `greet` (v1 "Hello {{name}}" on `local`) with suites `smoke` and
    `tone`; `mia` (maintainer) requests, `r1`/`r2` (viewers) hold the production right.
    Development and production require evaluation; v1 already ran in staging."""

    def __init__(self, commits):
        self.commits = commits
        self.namespace = NamespaceFactory(slug="alpha")
        self.staff = UserFactory(username="boss", is_staff=True)
        self.users = {"boss": self.staff}
        for name, role in (("mia", "maintainer"), ("r1", "viewer"), ("r2", "viewer")):
            self.users[name] = UserFactory(username=name)
            MembershipFactory(team=self.namespace.team, user=self.users[name], role=role)
        Environment.objects.filter(slug__in=["development", "production"]).update(
            requires_evaluation=True
        )
        self.env = {e.slug: e for e in Environment.objects.all()}
        for name in ("r1", "r2"):
            promotion_right_grant(
                actor=self.staff,
                namespace=self.namespace,
                environment=self.env["production"],
                user=self.users[name],
            )
        self.prompt = PromptFactory(namespace=self.namespace, name="greet")
        self.v1 = version_create(
            prompt=self.prompt,
            author=self.staff,
            template="Hello {{name}}",
            variables=["name"],
            model_config={"model": "local"},
        )
        deployment_set(
            prompt=self.prompt,
            environment=self.env["staging"],
            version=self.v1,
            actor=self.staff,
            action="deployment.seeded",
        )
        self.suites = {name: self.suite(name) for name in ("smoke", "tone")}
        self.clients = {name: personal_client(user) for name, user in self.users.items()}

    def suite(self, name):
        suite = Suite.objects.create(prompt=self.prompt, name=name, created_by=self.staff)
        Case.objects.create(
            suite=suite,
            position=1,
            variables={"name": "Ada"},
            assertions=[{"type": "contains", "value": "Ada"}],
        )
        return suite

    def run(self, name, *, passing=True, version=None):
        """A real run on `local` (queued, executed by the eager task, finished)."""
        suite = self.suites[name]
        if not passing:
            Case.objects.filter(suite=suite).update(
                assertions=[{"type": "contains", "value": "Grace"}]
            )
        with self.commits(execute=True):
            run = runs.run_create(
                actor=self.users["mia"],
                prompt=self.prompt,
                version=version or self.v1,
                suite=suite,
                model=Model.objects.get(name="local"),
            )
        if not passing:
            Case.objects.filter(suite=suite).update(
                assertions=[{"type": "contains", "value": "Ada"}]
            )
        run.refresh_from_db()
        assert run.state == ("passed" if passing else "failed"), run.error
        return run

    def request(self, environment, who="mia"):
        body = {
            "prompt": "alpha/greet",
            "version": 1,
            "environment": environment,
            "justification": f"ship v1 to {environment}",
        }
        with self.commits(execute=True):
            return self.clients[who].post("/api/v1/promotions/", body, format="json")

    def approve(self, who, request_id):
        with self.commits(execute=True):
            return self.clients[who].post(
                f"/api/v1/promotions/{request_id}/approve/", {"comment": "ok"}, format="json"
            )

    def running(self, environment):
        deployment = Deployment.objects.filter(
            prompt=self.prompt, environment__slug=environment
        ).first()
        return deployment.version.number if deployment else None


@pytest.fixture
def gated(db, django_capture_on_commit_callbacks):
    return Gated(django_capture_on_commit_callbacks)


def test_refused_without_a_run_naming_the_suites(gated):
    refused = gated.request("development")

    assert refused.status_code == 409
    body = problem(refused)
    assert body["code"] == "evaluation_gate"
    assert "'smoke' has no run" in body["detail"]
    assert "'tone' has no run" in body["detail"]
    assert "on local within 7 days" in body["detail"]
    assert [(s["name"], s["state"]) for s in body["gate"]["suites"]] == [
        ("smoke", "missing"),
        ("tone", "missing"),
    ]
    assert gated.running("development") is None
    assert not PromotionRequest.objects.filter(environment__slug="development").exists()


def test_refused_with_one_suite_passing_and_the_other_missing(gated):
    gated.run("smoke")

    body = problem(gated.request("development"))

    assert "'tone' has no run" in body["detail"]
    assert "smoke" not in body["detail"]
    assert gated.running("development") is None


def test_refused_with_a_stale_passing_run(gated):
    with time_machine.travel(timezone.now() - dt.timedelta(days=8), tick=False):
        stale = gated.run("smoke")
    gated.run("tone")

    refused = gated.request("development")

    assert refused.status_code == 409
    body = problem(refused)
    assert f"'smoke' last passed in run #{stale.pk}, older than the limit" in body["detail"]
    assert {s["name"]: s["state"] for s in body["gate"]["suites"]} == {
        "smoke": "stale",
        "tone": "passing",
    }


def test_a_run_within_the_age_limit_still_counts(gated):
    with time_machine.travel(timezone.now() - dt.timedelta(days=6), tick=False):
        gated.run("smoke")
        gated.run("tone")

    assert gated.request("development").json()["state"] == "applied"


def test_refused_with_a_failing_run_even_after_an_older_pass(gated):
    gated.run("smoke")
    gated.run("tone")
    failing = gated.run("tone", passing=False)

    body = problem(gated.request("development"))

    assert f"'tone' failed in run #{failing.pk}" in body["detail"]
    assert gated.running("development") is None


def test_refused_when_the_run_was_on_another_model(gated):
    gated.run("smoke")
    gated.run("tone")
    v2 = version_create(
        prompt=gated.prompt,
        author=gated.staff,
        template="Hello {{name}}",
        variables=["name"],
        model_config={"model": "gpt-4o-mini"},
    )
    deployment_set(
        prompt=gated.prompt,
        environment=gated.env["staging"],
        version=v2,
        actor=gated.staff,
        action="deployment.seeded",
    )
    body = {"prompt": "alpha/greet", "version": 2, "environment": "development"}
    refused = gated.clients["mia"].post(
        "/api/v1/promotions/", {**body, "justification": "v2"}, format="json"
    )

    assert refused.status_code == 409
    assert (
        "model 'gpt-4o-mini' (from the version's model_config) is not registered"
        in (problem(refused)["detail"])
    )


def test_applied_with_fresh_passing_runs(gated):
    gated.run("smoke")
    gated.run("tone")

    applied = gated.request("development")

    assert applied.status_code == 201
    assert applied.json()["state"] == "applied"
    assert gated.running("development") == 1


def test_a_prompt_without_suites_does_not_pass(gated):
    Suite.objects.filter(prompt=gated.prompt).delete()

    body = problem(gated.request("development"))

    assert "alpha/greet has no evaluation suite" in body["detail"]


def test_environments_without_requires_evaluation_are_unaffected(gated):
    Environment.objects.filter(slug="development").update(requires_evaluation=False)

    assert gated.request("development").json()["state"] == "applied"


def test_approvals_are_collected_meanwhile_and_a_passing_run_applies(gated):
    gated.run("smoke")
    created = gated.request("production").json()
    assert created["state"] == "pending"

    gated.approve("r1", created["id"])
    second = gated.approve("r2", created["id"])

    assert second.status_code == 200
    assert (second.json()["state"], second.json()["approvals"]) == ("pending", 2)
    assert gated.running("production") is None

    gated.run("tone")

    request = PromotionRequest.objects.get(pk=created["id"])
    assert request.state == "applied"
    assert gated.running("production") == 1
    applied = AuditEntry.objects.get(action="promotion.applied", object_id="alpha/greet@production")
    assert (applied.actor, applied.after["version"]) == ("system", 1)
    assert (
        AuditEntry.objects.filter(action="promotion.approved", object_id=str(created["id"])).count()
        == 2
    )


def test_a_failing_run_leaves_the_request_pending(gated):
    gated.run("smoke")
    created = gated.request("production").json()
    gated.approve("r1", created["id"])
    gated.approve("r2", created["id"])

    gated.run("tone", passing=False)

    assert PromotionRequest.objects.get(pk=created["id"]).state == "pending"
    assert gated.running("production") is None


def test_the_last_approval_applies_when_the_gate_already_passed(gated):
    gated.run("smoke")
    gated.run("tone")
    created = gated.request("production").json()
    gated.approve("r1", created["id"])

    assert gated.approve("r2", created["id"]).json()["state"] == "applied"
    assert gated.running("production") == 1
