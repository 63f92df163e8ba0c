"""Migration audit.0003 re-seals the entries of the unkeyed chain with the current key, each only
after its old hash verified: existing logs still verify, and earlier tampering is not laundered."""

import hashlib
import json

import pgtrigger
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from portal.audit.models import ENTRY_FIELDS, GENESIS_HASH, AuditEntry
from portal.audit.selectors import verify

pytestmark = pytest.mark.django_db(transaction=True)

UNKEYED = [("audit", "0002_auditors_group_and_chain_head")]


def _unkeyed_hash(prev_hash, fields):
    body = {name: fields[name] for name in ENTRY_FIELDS} | {"at": fields["at"].isoformat()}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + text).encode()).hexdigest()


def _unkeyed_chain(apps, count):
    """Entries as the portal wrote them before the chain was keyed."""
    entries = apps.get_model("audit", "AuditEntry")
    heads = apps.get_model("audit", "AuditChainHead")
    prev_hash = GENESIS_HASH
    for seq in range(1, count + 1):
        fields = {
            "seq": seq,
            "at": timezone.now(),
            "actor": "alice",
            "actor_type": "user",
            "token_prefix": "",
            "action": "promotion.requested",
            "object_type": "promotion_request",
            "object_id": str(seq),
            "namespace": "support",
            "justification": f"Grüße, release {seq}",
            "before": None,
            "after": {"version": seq, "temperature": 0.1 * seq},
            "request_id": "",
            "client_ip": "127.0.0.1",
        }
        digest = _unkeyed_hash(prev_hash, fields)
        entries.objects.create(prev_hash=prev_hash, hash=digest, **fields)
        prev_hash = digest
    heads.objects.update_or_create(id=1, defaults={"seq": count, "hash": prev_hash})


@pytest.fixture
def before_the_keyed_chain():
    """The database as it was before 0003; yields the historical apps, then migrates forward."""
    executor = MigrationExecutor(connection)
    executor.migrate(UNKEYED)
    try:
        yield executor.loader.project_state(UNKEYED).apps
    finally:
        forward = MigrationExecutor(connection)
        forward.migrate(forward.loader.graph.leaf_nodes())


def _migrate_forward():
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_existing_entries_verify_after_the_migration(before_the_keyed_chain):
    _unkeyed_chain(before_the_keyed_chain, 5)

    _migrate_forward()

    result = verify()
    assert (result.ok, result.entries, result.key_ids) == (True, 5, ("k1",))
    assert AuditEntry.objects.get(seq=3).justification == "Grüße, release 3"


def test_an_entry_tampered_with_before_the_migration_stays_broken(before_the_keyed_chain):
    _unkeyed_chain(before_the_keyed_chain, 5)
    with (
        pgtrigger.ignore("audit.AuditEntry:audit_entry_append_only"),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_auditentry SET justification = 'nothing' WHERE seq = 3")

    _migrate_forward()

    result = verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert result.reason == "entry #3 carries no key id (an unkeyed entry)"
    assert list(AuditEntry.objects.values_list("key_id", flat=True)) == ["k1", "k1", "", "", ""]
