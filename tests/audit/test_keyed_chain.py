"""The audit chain is keyed (HMAC-SHA256 under AUDIT_CHAIN_KEY): write access to the database
alone cannot forge a chain that verifies. Rotation keeps old entries verifiable; an unknown key
id fails clearly; `audit_verify` and the verify endpoint name the key ids they saw."""

import hashlib
import hmac
import json
from io import StringIO

import pgtrigger
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from portal.audit import chain
from portal.audit.models import ENTRY_FIELDS, SEALED_FIELDS, AuditChainHead, AuditEntry
from portal.audit.selectors import verify
from tests.audit.conftest import K1, K2, append, rewrite

pytestmark = pytest.mark.django_db


def _fields(entry):
    return {name: getattr(entry, name) for name in SEALED_FIELDS}


def _legacy_unkeyed(entry):
    """The chain as it was: sha256(prev_hash + canonical JSON of the entry)."""
    body = {name: getattr(entry, name) for name in ENTRY_FIELDS} | {"at": entry.at.isoformat()}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((entry.prev_hash + text).encode()).hexdigest()


def _canonical_unkeyed(entry):
    return hashlib.sha256(chain.canonical(_fields(entry))).hexdigest()


def _wrong_key(entry):
    return chain.seal(_fields(entry), "a-guessed-secret-0123456789-abcdefghijklmnop")


def _forge(victim_seq, make_hash):
    """Rewrite one entry and re-chain it and every later one, the chain head included: all an
    attacker with write access to the database (but not the key) can do."""
    prev = AuditEntry.objects.get(seq=victim_seq - 1).hash
    for entry in AuditEntry.objects.filter(seq__gte=victim_seq).order_by("seq"):
        if entry.seq == victim_seq:
            entry.justification = "nothing to see here"
        entry.prev_hash = prev
        entry.hash = prev = make_hash(entry)
        rewrite(entry.seq, justification=entry.justification, prev_hash=entry.prev_hash, hash=prev)
    AuditChainHead.objects.filter(id=1).update(hash=prev)


def test_each_entry_is_an_hmac_under_the_current_key_over_its_canonical_form(use_keys):
    use_keys("k1", k1=K1)

    entry = append(1, justification="Prüfung ✓")[0]

    body = {name: getattr(entry, name) for name in SEALED_FIELDS} | {"at": entry.at.isoformat()}
    message = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = hmac.new(K1.encode(), message.encode(), hashlib.sha256).hexdigest()
    stored = AuditEntry.objects.get(seq=entry.seq)
    assert (stored.key_id, stored.hash) == ("k1", expected)
    assert stored.prev_hash == "0" * 64


@pytest.mark.parametrize(
    "make_hash",
    [_legacy_unkeyed, _canonical_unkeyed, _wrong_key],
    ids=["legacy-unkeyed-sha256", "unkeyed-canonical", "wrong-key"],
)
def test_a_rewritten_and_rechained_entry_fails_verification(staff_api, make_hash):
    append(6)
    assert verify().ok
    victim = AuditEntry.objects.order_by("seq")[2].seq

    _forge(victim, make_hash)

    result = verify()
    assert (result.ok, result.first_bad_seq, result.entries) == (False, victim, victim - 1)
    assert f"entry #{victim} does not match its seal" in result.reason
    with pytest.raises(CommandError, match=f"broken at entry #{victim}: entry #{victim} does"):
        call_command("audit_verify")
    answer = staff_api.get("/api/v1/audit/verify/").json()
    assert (answer["ok"], answer["first_bad_seq"]) == (False, victim)
    assert f"#{victim}" in answer["reason"]


def test_a_changed_key_id_fails_verification(use_keys):
    use_keys("k2", k1=K1, k2=K2)
    append(3)

    rewrite(2, key_id="k1")

    result = verify()
    assert (result.first_bad_seq, result.reason) == (
        2,
        "entry #2 does not match its seal (key id 'k1')",
    )


def test_a_removed_entry_in_the_middle_is_named(use_keys):
    use_keys("k1", k1=K1)
    append(4)

    with (
        pgtrigger.ignore("audit.AuditEntry:audit_entry_append_only"),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM audit_auditentry WHERE seq = 2")

    result = verify()
    assert (result.first_bad_seq, result.reason) == (2, "entry #2 is missing (the next one is #3)")


def test_after_a_rotation_old_entries_verify_with_the_old_key(use_keys):
    use_keys("k1", k1=K1)
    append(2)
    use_keys("k2", k1=K1, k2=K2)
    append(2)
    out = StringIO()

    call_command("audit_verify", stdout=out)

    assert list(AuditEntry.objects.values_list("key_id", flat=True)) == ["k1", "k1", "k2", "k2"]
    assert verify().key_ids == ("k1", "k2")
    assert "Audit chain intact: 4 entries, key ids: k1, k2." in out.getvalue()


def test_an_entry_sealed_with_an_unknown_key_id_fails_clearly(use_keys, staff_api):
    use_keys("k1", k1=K1)
    append(1)
    use_keys("k9", k1=K1, k9=K2)
    append(1)
    use_keys("k1", k1=K1)
    expected = (
        "entry #3 is sealed with key id 'k9', which is not configured "
        "(AUDIT_CHAIN_KEY, AUDIT_CHAIN_OLD_KEYS)"
    )

    result = verify()

    assert (result.ok, result.first_bad_seq, result.reason) == (False, 3, expected)
    with pytest.raises(CommandError) as raised:
        call_command("audit_verify")
    assert str(raised.value) == (
        f"Audit chain broken at entry #3: {expected} (2 entries verified before it, key ids: k1)."
    )
    answer = staff_api.get("/api/v1/audit/verify/").json()
    assert (answer["first_bad_seq"], answer["reason"], answer["key_ids"]) == (3, expected, ["k1"])


def test_large_numbers_in_before_and_after_still_verify():
    """jsonb gives 1e+16 back as 10000000000000000: the seal covers what reads back."""
    append(1, after={"max_tokens": 1e16, "huge": -1.5e300, "small": 1e-7, "t": 0.1})

    assert verify().ok
    stored = AuditEntry.objects.get().after
    assert stored["max_tokens"] == 10**16
    assert isinstance(stored["max_tokens"], int)
