"""The audit chain becomes keyed: each entry is sealed with HMAC-SHA256 under AUDIT_CHAIN_KEY and
carries the key's id. Existing entries are re-sealed here with the current key, under
pgtrigger.ignore (the append-only trigger refuses updates otherwise), each one only after its old
unkeyed hash (sha256 of the previous hash and the canonical entry) has verified: re-sealing stops
at the first entry that does not, which keeps an empty key id, so verification names it.

The seal is written out here rather than imported: a migration keeps the form it was made with.
"""

import hashlib
import hmac
import json
import logging

import pgtrigger
from django.conf import settings
from django.db import migrations, models

GENESIS_HASH = "0" * 64
ENTRY_FIELDS = (
    "seq",
    "at",
    "actor",
    "actor_type",
    "token_prefix",
    "action",
    "object_type",
    "object_id",
    "namespace",
    "justification",
    "before",
    "after",
    "request_id",
    "client_ip",
)
BATCH = 500
logger = logging.getLogger(__name__)


def _json(body):
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _body(entry):
    body = {name: getattr(entry, name) for name in ENTRY_FIELDS}
    body["at"] = entry.at.isoformat()
    return body


def _unkeyed_hash(entry, prev_hash):
    return hashlib.sha256((prev_hash + _json(_body(entry))).encode()).hexdigest()


def _seal(entry, secret):
    body = _body(entry) | {"key_id": entry.key_id, "prev_hash": entry.prev_hash}
    return hmac.new(secret.encode(), _json(body).encode(), hashlib.sha256).hexdigest()


def reseal(apps, schema_editor):
    entries = apps.get_model("audit", "AuditEntry").objects.using(schema_editor.connection.alias)
    heads = apps.get_model("audit", "AuditChainHead").objects.using(schema_editor.connection.alias)
    key_id = settings.AUDIT_CHAIN_KEY_ID
    secret = settings.AUDIT_CHAIN_KEYS[key_id]
    old_hash, new_hash, seq, intact = GENESIS_HASH, GENESIS_HASH, 0, True
    with pgtrigger.ignore("audit.AuditEntry:audit_entry_append_only"):
        while intact:
            batch = list(entries.filter(seq__gt=seq).order_by("seq")[:BATCH])
            if not batch:
                break
            sealed = []
            for entry in batch:
                intact = (
                    entry.seq == seq + 1
                    and entry.prev_hash == old_hash
                    and _unkeyed_hash(entry, old_hash) == entry.hash
                )
                if not intact:
                    logger.warning(
                        "Audit entry #%s does not verify: left unsealed, as are the ones after it.",
                        seq + 1,
                    )
                    break
                old_hash = entry.hash
                entry.key_id, entry.prev_hash = key_id, new_hash
                entry.hash = new_hash = _seal(entry, secret)
                seq = entry.seq
                sealed.append(entry)
            entries.bulk_update(sealed, ["key_id", "prev_hash", "hash"])
        if intact:
            heads.filter(id=1, seq=seq, hash=old_hash).update(hash=new_hash)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_auditors_group_and_chain_head")]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="key_id",
            field=models.CharField(
                default="", help_text="The id of the key that sealed it.", max_length=32
            ),
            preserve_default=False,
        ),
        migrations.CreateModel(
            name="AuditChainVerification",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False),
                ),
                ("position", models.PositiveBigIntegerField(default=0)),
                ("position_hash", models.CharField(default=GENESIS_HASH, max_length=64)),
                ("pass_started_at", models.DateTimeField(blank=True, null=True)),
                ("pass_key_ids", models.JSONField(blank=True, default=list)),
                ("checked_at", models.DateTimeField(blank=True, null=True)),
                ("last_pass_completed_at", models.DateTimeField(blank=True, null=True)),
                ("last_pass_entries", models.PositiveBigIntegerField(default=0)),
                ("last_pass_key_ids", models.JSONField(blank=True, default=list)),
                ("failed_seq", models.PositiveBigIntegerField(blank=True, null=True)),
                ("failure", models.TextField(blank=True)),
                ("failed_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("id", 1)), name="audit_verification_singleton"
                    )
                ],
            },
        ),
        migrations.RunPython(reseal, migrations.RunPython.noop),
    ]
