"""Celery beat re-verifies the whole chain continuously, a bounded batch per run from where the
last one stopped; the record (position, last complete pass, failure) is what the verify page and
endpoint show beside their own check of the newest entries. No request walks the whole table."""

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_celery_beat import schedulers
from django_celery_beat.models import PeriodicTask

from portal.audit.models import AuditChainHead, AuditChainVerification, AuditEntry
from portal.audit.tasks import verify_chain
from portal.celery import app
from tests.audit.conftest import K1, K2, append, remove, rewrite
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _record():
    return AuditChainVerification.objects.get(id=1)


def test_beat_runs_the_task_and_its_database_scheduler_holds_it(monkeypatch):
    # Beat drops connections it thinks stale; inside the test's transaction that is this one.
    monkeypatch.setattr(schedulers, "close_old_connections", lambda: None)
    entry = settings.CELERY_BEAT_SCHEDULE["verify-audit-chain"]

    schedulers.DatabaseScheduler(app=app)

    assert entry == {
        "task": "portal.audit.tasks.verify_chain",
        "schedule": settings.AUDIT_VERIFY_EVERY_SECONDS,
    }
    assert "portal.audit.tasks.verify_chain" in app.tasks
    task = PeriodicTask.objects.get(name="verify-audit-chain")
    assert (task.task, task.enabled, task.interval.every) == (
        "portal.audit.tasks.verify_chain",
        True,
        int(settings.AUDIT_VERIFY_EVERY_SECONDS),
    )


def test_each_run_verifies_one_batch_after_the_last_and_the_pass_wraps_around(settings):
    settings.AUDIT_VERIFY_BATCH_SIZE = 2
    append(5)

    with CaptureQueriesContext(connection) as queries:
        first = verify_chain.delay().get()
    positions = [first] + [verify_chain.delay().get() for _ in range(3)]

    assert positions == [2, 4, 0, 2]
    entry_reads = [q["sql"] for q in queries if 'FROM "audit_auditentry"' in q["sql"]]
    assert len(entry_reads) == 1
    assert "LIMIT 2" in entry_reads[0]
    record = _record()
    assert record.last_pass_entries == 5
    assert record.last_pass_key_ids == ["k1"]
    assert record.last_pass_completed_at is not None
    assert (record.failed_seq, record.failure) == (None, "")
    assert AuditEntry.objects.count() == 5, "routine runs are not audited"


def test_a_failure_is_recorded_audited_once_and_shown_on_the_verify_page(settings, staff_api):
    settings.AUDIT_VERIFY_WINDOW = 2
    append(6)
    rewrite(3, justification="nothing to see here")
    before_any_run = staff_api.get("/api/v1/audit/verify/").json()

    verify_chain.delay()
    verify_chain.delay()

    assert (before_any_run["ok"], before_any_run["entries"]) == (True, 2), "a bounded window"
    assert before_any_run["background"] is None
    record = _record()
    assert (record.failed_seq, record.position) == (3, 0)
    assert record.failure == "entry #3 does not match its seal (key id 'k1')"
    audited = AuditEntry.objects.filter(action="audit.chain_broken")
    assert [(e.actor, e.object_id, e.after["first_bad_seq"]) for e in audited] == [
        ("system", "3", 3)
    ]
    answer = staff_api.get("/api/v1/audit/verify/").json()
    assert (answer["ok"], answer["first_bad_seq"], answer["reason"]) == (
        False,
        3,
        record.failure,
    )
    assert answer["background"]["failed_seq"] == 3
    assert answer["key_ids"] == ["k1"]


def test_the_verify_page_names_key_ids_and_the_background_record(client, settings, use_keys):
    client.force_login(UserFactory(username="sam", is_staff=True))
    settings.AUDIT_VERIFY_WINDOW = 3
    append(2)
    use_keys("k2", k1=K1, k2=K2)
    append(2)
    verify_chain.delay()

    body = client.get(reverse("audit:verify"), HTTP_HX_REQUEST="true").content.decode()

    assert "the newest 3 entries verified (#2 to #4), sealed with key ids k1, k2." in body
    assert "last complete pass at" in body
    assert "4 entries, key ids k1, k2" in body


def test_a_clean_pass_after_a_failure_clears_it_and_is_audited(use_keys):
    append(1)
    use_keys("k9", k1=K1, k9=K2)
    append(1)
    use_keys("k1", k1=K1)
    verify_chain.delay()
    assert _record().failure.startswith("entry #2 is sealed with key id 'k9'")

    use_keys("k1", k1=K1, k9=K2)
    verify_chain.delay()

    record = _record()
    assert (record.failed_seq, record.failure, record.last_pass_key_ids) == (None, "", ["k1", "k9"])
    assert list(AuditEntry.objects.values_list("action", flat=True)[2:]) == [
        "audit.chain_broken",
        "audit.chain_verified",
    ]


def test_a_tail_removed_below_the_verified_position_is_noticed(settings):
    settings.AUDIT_VERIFY_BATCH_SIZE = 3
    append(5)
    assert verify_chain.delay().get() == 3

    remove(seq_from=3)
    second = AuditEntry.objects.get(seq=2)
    AuditChainHead.objects.filter(id=1).update(seq=2, hash=second.hash)
    verify_chain.delay()

    record = _record()
    assert (record.failed_seq, record.failure) == (
        3,
        "the chain head is at #2, behind #3, verified before",
    )
