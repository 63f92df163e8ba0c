"""Promotion with approval gates, four-eyes review, rollback and the audit trail, via the API."""

import datetime as dt
import json
import logging

import pgtrigger
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from approvals.models import PromotionRequest
from approvals.services import expire_stale_requests, promotion_right_grant
from portal.audit.models import AuditEntry
from portal.audit.selectors import verify
from prompts.models import Deployment, Environment
from prompts.services import version_create
from tests.api.conftest import personal_client, problem, service_client
from tests.factories import MembershipFactory, NamespaceFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db


class Gov:
    """Team alpha: `writer` authors versions, `mia` requests promotions; `r1`, `r2` hold the
    staging and production rights; `outsider` holds nothing; `boss` is staff with the rights."""

    def __init__(self):
        self.namespace = NamespaceFactory(slug="alpha")
        team = self.namespace.team
        self.staff = UserFactory(username="boss", is_staff=True)
        self.users = {"boss": self.staff}
        for name, role in (
            ("writer", "maintainer"),
            ("mia", "maintainer"),
            ("r1", "viewer"),
            ("r2", "viewer"),
            ("outsider", None),
        ):
            user = UserFactory(username=name)
            if role:
                MembershipFactory(team=team, user=user, role=role)
            self.users[name] = user
        self.env = {e.slug: e for e in Environment.objects.all()}
        for slug in ("staging", "production"):
            for name in ("r1", "r2", "mia", "writer", "boss"):
                promotion_right_grant(
                    actor=self.staff,
                    namespace=self.namespace,
                    environment=self.env[slug],
                    user=self.users[name],
                )
        self.prompt = PromptFactory(namespace=self.namespace, name="greet")
        self.v1 = self.version("Hello {{name}}")
        self.v2 = self.version("Hi {{name}}")
        self.clients = {name: personal_client(user) for name, user in self.users.items()}

    def version(self, text):
        return version_create(
            prompt=self.prompt, author=self.users["writer"], template=text, variables=["name"]
        )

    def request(self, who, version, environment, **extra):
        body = {
            "prompt": "alpha/greet",
            "version": version,
            "environment": environment,
            "justification": f"ship v{version} to {environment}",
            **extra,
        }
        return self.clients[who].post("/api/v1/promotions/", body, format="json")

    def decide(self, who, request_id, decision, comment=""):
        return self.clients[who].post(
            f"/api/v1/promotions/{request_id}/{decision}/", {"comment": comment}, format="json"
        )

    def running(self, environment):
        deployment = Deployment.objects.filter(
            prompt=self.prompt, environment__slug=environment
        ).first()
        return deployment.version.number if deployment else None

    def promote_through(self, version, *environments):
        for environment in environments:
            created = self.request("mia", version, environment).json()
            for reviewer in ("r1", "r2")[: created["required_approvals"]]:
                self.decide(reviewer, created["id"], "approve")
        return created


@pytest.fixture
def gov(db):
    return Gov()


def test_happy_path_through_staging_and_production(gov):
    dev = gov.request("mia", 2, "development")
    assert dev.status_code == 201
    assert dev.json()["state"] == "applied"

    staging = gov.request("mia", 2, "staging").json()
    assert staging["state"] == "pending"
    assert gov.decide("r1", staging["id"], "approve", "looks right").json()["state"] == "applied"

    production = gov.request("mia", 2, "production").json()
    assert (production["state"], production["required_approvals"]) == ("pending", 2)
    first = gov.decide("r1", production["id"], "approve").json()
    assert (first["state"], first["approvals"]) == ("pending", 1)
    assert gov.running("production") is None
    second = gov.decide("r2", production["id"], "approve", "ship it").json()

    assert second["state"] == "applied"
    assert [r["reviewer"] for r in second["reviews"]] == ["r1", "r2"]
    assert second["reviews"][1]["comment"] == "ship it"
    detail = gov.clients["mia"].get("/api/v1/prompts/alpha/greet/").json()
    assert detail["deployments"] == {"development": 2, "staging": 2, "production": 2}
    service = service_client(actor=gov.staff, namespaces=[gov.namespace])
    resolved = service.get("/api/v1/resolve/alpha/greet/?environment=production").json()
    assert (resolved["version"], resolved["template"]) == (2, "Hi {{name}}")
    actions = list(
        AuditEntry.objects.filter(object_id=str(production["id"])).values_list("action", "actor")
    )
    assert actions == [
        ("promotion.requested", "mia"),
        ("promotion.approved", "r1"),
        ("promotion.approved", "r2"),
    ]
    applied = AuditEntry.objects.get(action="promotion.applied", object_id="alpha/greet@production")
    assert (applied.actor, applied.before, applied.after["version"]) == ("r2", {"version": None}, 2)
    assert applied.justification == "ship v2 to production"
    assert verify().ok


class TestFourEyes:
    def test_the_requester_cannot_approve_even_holding_the_right(self, gov):
        created = gov.request("mia", 2, "staging").json()

        refused = gov.decide("mia", created["id"], "approve")

        assert refused.status_code == 403
        body = problem(refused)
        assert body["code"] == "four_eyes"
        assert "You requested this promotion" in body["detail"]
        assert PromotionRequest.objects.get(pk=created["id"]).state == "pending"

    def test_the_author_cannot_approve(self, gov):
        created = gov.request("mia", 2, "staging").json()

        refused = gov.decide("writer", created["id"], "approve")

        assert refused.status_code == 403
        assert "You authored version 2" in problem(refused)["detail"]

    def test_staff_cannot_approve_their_own_request(self, gov):
        gov.promote_through(2, "staging")
        created = gov.request("boss", 2, "production").json()

        refused = gov.decide("boss", created["id"], "approve")

        assert refused.status_code == 403
        assert problem(refused)["code"] == "four_eyes"
        gov.decide("r1", created["id"], "approve")
        assert gov.running("production") is None

    def test_nobody_moves_production_alone(self, gov):
        gov.promote_through(2, "staging")
        created = gov.request("mia", 2, "production").json()
        gov.decide("r1", created["id"], "approve")

        again = gov.decide("r1", created["id"], "approve")

        assert again.status_code == 200
        assert again.json()["approvals"] == 1
        assert again.json()["state"] == "pending"
        assert gov.running("production") is None


def test_approval_without_the_right_is_refused(gov):
    created = gov.request("mia", 2, "staging").json()

    refused = gov.decide("outsider", created["id"], "approve")

    assert refused.status_code == 403
    assert "do not hold the promotion right" in problem(refused)["detail"]


@pytest.mark.parametrize("how", ["cancelled", "superseded"])
def test_closed_requests_cannot_be_approved(gov, how):
    created = gov.request("mia", 1, "staging").json()
    if how == "cancelled":
        assert gov.decide("mia", created["id"], "cancel").json()["state"] == "cancelled"
    else:
        newer = gov.request("mia", 2, "staging").json()
        assert PromotionRequest.objects.get(pk=created["id"]).superseded_by_id == newer["id"]

    refused = gov.decide("r1", created["id"], "approve")

    assert refused.status_code == 409
    assert problem(refused)["code"] == f"request_{how}"
    assert gov.running("staging") is None


def test_production_before_staging_is_refused_unless_staff_override(gov):
    refused = gov.request("mia", 2, "production")
    not_staff = gov.request("mia", 2, "production", override=True)
    overridden = gov.request("boss", 2, "production", override=True)

    assert refused.status_code == 409
    assert problem(refused)["code"] == "environment_order"
    assert "must run in staging before production" in problem(refused)["detail"]
    assert not_staff.status_code == 403
    assert overridden.status_code == 201
    assert overridden.json()["override"] is True
    entry = AuditEntry.objects.get(action="promotion.override")
    assert entry.after["skipped_environments"] == ["staging"]
    assert entry.actor == "boss"


def test_a_rejection_ends_the_request_and_keeps_the_reason(gov):
    created = gov.request("mia", 2, "staging").json()

    no_reason = gov.decide("r1", created["id"], "reject")
    rejected = gov.decide("r1", created["id"], "reject", "tone is off")
    late = gov.decide("r2", created["id"], "approve")

    assert no_reason.status_code == 422
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["reviews"] == [
        {
            "reviewer": "r1",
            "decision": "reject",
            "comment": "tone is off",
            "created_at": rejected.json()["reviews"][0]["created_at"],
            "counts": False,
        }
    ]
    assert late.status_code == 409
    assert gov.running("staging") is None


def test_only_the_requester_or_owners_cancel(gov):
    created = gov.request("mia", 2, "staging").json()

    assert gov.decide("writer", created["id"], "cancel").status_code == 403
    assert gov.decide("mia", created["id"], "cancel").json()["state"] == "cancelled"


def test_requests_need_justification_and_a_visible_prompt(gov):
    no_reason = gov.request("mia", 2, "staging", justification="  ")
    stranger = personal_client(UserFactory())
    secret_ns = NamespaceFactory(slug="secret", visibility="private")
    PromptFactory(namespace=secret_ns, name="hidden")

    hidden = stranger.post(
        "/api/v1/promotions/",
        {"prompt": "secret/hidden", "version": 1, "environment": "staging", "justification": "x"},
        format="json",
    )
    viewer = gov.request("r1", 2, "staging")

    assert no_reason.status_code == 422
    assert hidden.status_code == 404
    assert viewer.status_code == 403
    assert not PromotionRequest.objects.exists()


class TestRollback:
    def test_rollback_to_the_previous_version_is_immediate_and_audited(self, gov):
        gov.promote_through(1, "staging", "production")
        gov.promote_through(2, "staging", "production")
        assert gov.running("production") == 2

        response = gov.clients["r1"].post(
            "/api/v1/prompts/alpha/greet/rollback/",
            {"environment": "production", "justification": "v2 answers rudely"},
            format="json",
        )

        assert response.status_code == 200
        assert response.json()["version"] == 1
        assert gov.running("production") == 1
        entry = AuditEntry.objects.filter(action="deployment.rolled_back").get()
        assert (entry.actor, entry.before, entry.after) == ("r1", {"version": 2}, {"version": 1})
        assert entry.justification == "v2 answers rudely"
        history = (
            gov.clients["mia"]
            .get("/api/v1/prompts/alpha/greet/deployments/?environment=production")
            .json()["results"]
        )
        assert [row["version"] for row in history] == [1, 2, 1]

    def test_history_explains_each_change(self, gov):
        gov.promote_through(1, "staging", "production")
        gov.promote_through(2, "staging", "production")
        gov.clients["r1"].post(
            "/api/v1/prompts/alpha/greet/rollback/",
            {"environment": "production", "justification": "v2 answers rudely"},
            format="json",
        )
        applied = PromotionRequest.objects.filter(
            environment__slug="production", version__number=2
        ).get()
        # A history row without its user (an import, a deleted account): `by` comes from audit.
        Deployment.history.filter(version__number=1).update(history_user=None, deployed_by=None)

        history = (
            gov.clients["mia"]
            .get("/api/v1/prompts/alpha/greet/deployments/?environment=production")
            .json()["results"]
        )

        rollback, promotion, first = history
        assert rollback | {"at": None} == {
            "environment": "production",
            "version": 1,
            "from_version": 2,
            "kind": "rollback",
            "request": None,
            "justification": "v2 answers rudely",
            "at": None,
            "by": "r1",
            "change": "Changed",
        }
        assert (promotion["kind"], promotion["request"], promotion["from_version"]) == (
            "promotion",
            applied.pk,
            1,
        )
        assert promotion["justification"] == applied.justification
        assert promotion["by"] is not None
        assert (first["kind"], first["from_version"], first["version"]) == ("promotion", None, 1)
        assert first["by"] in ("r1", "r2")

    def test_rollback_needs_the_right_a_justification_and_a_past_version(self, gov):
        gov.promote_through(1, "staging")
        gov.promote_through(2, "staging")
        url = "/api/v1/prompts/alpha/greet/rollback/"
        v3 = gov.version("Hey {{name}}")

        no_right = gov.clients["outsider"].post(
            url, {"environment": "staging", "justification": "x"}, format="json"
        )
        no_reason = gov.clients["r1"].post(
            url, {"environment": "staging", "justification": ""}, format="json"
        )
        never_ran = gov.clients["r1"].post(
            url,
            {"environment": "staging", "version": v3.number, "justification": "x"},
            format="json",
        )
        not_deployed = gov.clients["r1"].post(
            url, {"environment": "production", "justification": "x"}, format="json"
        )

        assert no_right.status_code == 403
        assert no_reason.status_code == 422
        assert never_ran.status_code == 409
        assert problem(never_ran)["code"] == "not_previously_deployed"
        assert not_deployed.status_code == 409
        assert gov.running("staging") == 2

    def test_rollback_to_a_named_earlier_version(self, gov):
        for number in (1, 2):
            gov.promote_through(number, "staging")
        gov.promote_through(gov.version("Hey {{name}}").number, "staging")

        response = gov.clients["r2"].post(
            "/api/v1/prompts/alpha/greet/rollback/",
            {"environment": "staging", "version": 1, "justification": "back to basics"},
            format="json",
        )

        assert response.status_code == 200
        assert gov.running("staging") == 1


def test_stale_requests_expire(gov, settings):
    settings.PROMOTION_REQUEST_MAX_AGE_DAYS = 1
    created = gov.request("mia", 2, "staging").json()
    PromotionRequest.objects.filter(pk=created["id"]).update(
        created_at=timezone.now() - dt.timedelta(days=2)
    )

    late = gov.decide("r1", created["id"], "approve")
    expired = expire_stale_requests()

    assert late.status_code == 409
    assert problem(late)["code"] == "request_expired"
    assert expired == 1
    assert PromotionRequest.objects.get(pk=created["id"]).state == "expired"
    assert AuditEntry.objects.filter(action="promotion.expired", actor="system").count() == 1
    assert expire_stale_requests() == 0


def test_reviewers_are_notified_after_commit(gov, caplog, django_capture_on_commit_callbacks):
    with (
        caplog.at_level(logging.INFO, logger="approvals.tasks"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        created = gov.request("mia", 2, "staging").json()

    assert len(callbacks) >= 1
    assert f"promotion request {created['id']} requested: notify boss, r1, r2" in caplog.text


def test_inbox_lists_what_the_caller_may_decide(gov):
    mine = gov.request("mia", 2, "staging").json()

    def reviewable(who):
        rows = gov.clients[who].get("/api/v1/promotions/?reviewable=true").json()["results"]
        return [row["id"] for row in rows]

    assert reviewable("r1") == [mine["id"]]
    assert reviewable("mia") == []
    assert reviewable("writer") == []
    assert reviewable("outsider") == []


class TestAuditApi:
    def test_only_staff_and_auditors_read_the_log(self, gov):
        from django.contrib.auth.models import Group

        auditor = UserFactory(username="audrey")
        auditor.groups.add(Group.objects.get(name="auditors"))

        assert personal_client(auditor).get("/api/v1/audit/").status_code == 200
        assert gov.clients["boss"].get("/api/v1/audit/").status_code == 200
        for name in ("mia", "r1", "outsider"):
            assert gov.clients[name].get("/api/v1/audit/").status_code == 403
            assert gov.clients[name].get("/api/v1/audit/export/").status_code == 403
            assert gov.clients[name].get("/api/v1/audit/verify/").status_code == 403

    def test_filters(self, gov):
        gov.promote_through(2, "staging")
        client = gov.clients["boss"]

        by_action = client.get("/api/v1/audit/?action=promotion.").json()["results"]
        by_actor = client.get("/api/v1/audit/?actor=r1").json()["results"]
        by_namespace = client.get("/api/v1/audit/?namespace=nope").json()["results"]
        future = client.get("/api/v1/audit/?since=2999-01-01T00:00:00Z").json()["results"]

        assert {e["action"] for e in by_action} == {
            "promotion.requested",
            "promotion.approved",
            "promotion.applied",
        }
        assert {e["actor"] for e in by_actor} == {"r1"}
        assert by_namespace == future == []
        assert client.get("/api/v1/audit/?since=yesterday").status_code == 422

    @pytest.mark.parametrize("export_format", ["jsonl", "csv"])
    def test_export_streams_every_entry(self, gov, export_format):
        gov.promote_through(2, "staging")

        response = gov.clients["boss"].get(f"/api/v1/audit/export/?format={export_format}")

        assert response.status_code == 200
        assert response.streaming
        body = b"".join(response.streaming_content).decode()
        lines = body.strip().splitlines()
        total = AuditEntry.objects.count()
        if export_format == "jsonl":
            rows = [json.loads(line) for line in lines]
            assert [r["seq"] for r in rows] == list(range(1, total + 1))
            assert rows[-1]["hash"] == AuditEntry.objects.get(seq=total).hash
        else:
            assert lines[0].startswith("seq,at,actor,actor_type")
            assert len(lines) == total + 1

    def test_verify_endpoint(self, gov):
        gov.promote_through(2, "staging")

        result = gov.clients["boss"].get("/api/v1/audit/verify/").json()

        assert (result["ok"], result["first_bad_seq"]) == (True, None)
        assert result["entries"] == AuditEntry.objects.count()


class TestTamperEvidence:
    def test_the_database_refuses_updates_and_deletes(self, gov):
        entry = AuditEntry.objects.order_by("seq").first()

        for sql in (
            "UPDATE audit_auditentry SET actor = 'mallory' WHERE seq = %s",
            "DELETE FROM audit_auditentry WHERE seq = %s",
        ):
            with (
                pytest.raises(DatabaseError, match="Cannot update or delete"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(sql, [entry.seq])

        assert AuditEntry.objects.get(seq=entry.seq).actor == entry.actor

    def test_verification_names_an_altered_entry(self, gov):
        gov.promote_through(2, "staging")
        victim = AuditEntry.objects.get(action="promotion.approved")

        with (
            pgtrigger.ignore("audit.AuditEntry:audit_entry_append_only"),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "UPDATE audit_auditentry SET justification = 'nothing to see' WHERE seq = %s",
                [victim.seq],
            )

        result = verify()
        assert (result.ok, result.first_bad_seq) == (False, victim.seq)
        with pytest.raises(CommandError, match=f"broken at entry #{victim.seq}"):
            call_command("audit_verify")
        assert gov.clients["boss"].get("/api/v1/audit/verify/").json()["first_bad_seq"] == (
            victim.seq
        )

    def test_verification_notices_a_deleted_entry(self, gov):
        gov.promote_through(2, "staging")
        last = AuditEntry.objects.order_by("-seq").first()

        with (
            pgtrigger.ignore("audit.AuditEntry:audit_entry_append_only"),
            connection.cursor() as cursor,
        ):
            cursor.execute("DELETE FROM audit_auditentry WHERE seq = %s", [last.seq])

        assert verify().first_bad_seq == last.seq


def test_inbox_drops_a_request_once_the_reviewer_approved_it(gov):
    gov.promote_through(2, "staging")
    created = gov.request("mia", 2, "production").json()
    gov.decide("r1", created["id"], "approve")

    def reviewable(who):
        rows = gov.clients[who].get("/api/v1/promotions/?reviewable=true").json()["results"]
        return [row["id"] for row in rows]

    assert reviewable("r1") == []
    assert reviewable("r2") == [created["id"]]


def test_an_approval_is_withdrawn_when_the_reviewer_loses_the_right(gov):
    from approvals.services import promotion_right_revoke

    gov.promote_through(2, "staging")
    created = gov.request("mia", 2, "production").json()
    gov.decide("r1", created["id"], "approve")
    promotion_right_revoke(
        actor=gov.staff,
        namespace=gov.namespace,
        environment=gov.env["production"],
        user=gov.users["r1"],
    )

    after_second = gov.decide("r2", created["id"], "approve").json()

    assert after_second["state"] == "pending"
    assert gov.running("production") is None


def test_a_retired_prompt_is_not_deployed_by_a_late_approval(gov):
    from prompts.lifecycle import prompt_retire

    created = gov.request("mia", 2, "staging").json()
    prompt_retire(actor=gov.staff, prompt=gov.prompt, reason="Retired early for the test.")

    refused = gov.decide("r1", created["id"], "approve")

    assert refused.status_code == 409
    assert problem(refused)["code"] == "retired"
    assert gov.running("staging") is None
