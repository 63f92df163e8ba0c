"""Shared by the audit chain's tests: a staff API client, keys, appends and tampering."""

import pgtrigger
import pytest
from django.db import connection

from portal.audit.services import audit
from tests.api.conftest import personal_client
from tests.factories import UserFactory

K1 = "k1-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
K2 = "k2-secret-0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@pytest.fixture(autouse=True)
def _k1(settings):
    """Entries here are sealed with key k1 unless a test rotates (use_keys)."""
    settings.AUDIT_CHAIN_KEY_ID = "k1"
    settings.AUDIT_CHAIN_KEYS = {"k1": K1}


@pytest.fixture
def staff_api(db):
    return personal_client(UserFactory(username="ada", is_staff=True))


@pytest.fixture
def use_keys(settings):
    """`use_keys("k2", k1=K1, k2=K2)`: seal with k2, verify with k1 and k2 (a rotation)."""

    def use(current, **keys):
        settings.AUDIT_CHAIN_KEY_ID = current
        settings.AUDIT_CHAIN_KEYS = keys

    return use


def append(count, **fields):
    """`count` entries written through the audit service."""
    return [
        audit(
            actor=None,
            action=fields.get("action", "test.entry"),
            object_type="thing",
            object_id=fields.get("object_id", index),
            justification=fields.get("justification", f"reason {index}"),
            after=fields.get("after", {"n": index}),
        )
        for index in range(count)
    ]


def rewrite(seq, **columns):
    """What write access to the database allows: change a row around the append-only trigger."""
    assignments = ", ".join(f"{name} = %s" for name in columns)
    with (
        pgtrigger.ignore("audit.AuditEntry:audit_entry_append_only"),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"UPDATE audit_auditentry SET {assignments} WHERE seq = %s", [*columns.values(), seq]
        )


def remove(*, seq_from):
    """Delete the entries from `seq_from` on, around the append-only trigger."""
    with (
        pgtrigger.ignore("audit.AuditEntry:audit_entry_append_only"),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM audit_auditentry WHERE seq >= %s", [seq_from])
