"""The audit log: append (hash-chained, serialized on the chain head's row lock) and verify."""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from approvals.models import AuditChainHead, AuditEntry
from portal import request_context
from teams.permissions import Principal, ServicePrincipal

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
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


def _json_native(value: Any) -> Any:
    return None if value is None else json.loads(json.dumps(value, default=str))


def canonical(fields: dict[str, Any]) -> str:
    body = {name: fields[name] for name in HASHED_FIELDS}
    body["at"] = fields["at"].isoformat()
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(fields)).encode()).hexdigest()


def _describe(actor: Principal | None) -> tuple[str, str, str]:
    context = request_context.current()
    if actor is None:
        return "system", "system", ""
    if isinstance(actor, ServicePrincipal):
        return actor.username, "service", actor.prefix
    return actor.get_username(), "user", context.token_prefix


def audit(
    *,
    actor: Principal | None,
    action: str,
    object_type: str,
    object_id: Any,
    namespace: str = "",
    justification: str = "",
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Append one entry. Runs inside the caller's transaction, so it commits with the change
    it records or not at all."""
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1)
        name, actor_type, token_prefix = _describe(actor)
        context = request_context.current()
        fields = {
            "seq": head.seq + 1,
            "at": timezone.now(),
            "actor": name,
            "actor_type": actor_type,
            "token_prefix": token_prefix,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "namespace": namespace or "",
            "justification": justification or "",
            "before": _json_native(before),
            "after": _json_native(after),
            "request_id": context.request_id,
            "client_ip": context.client_ip,
        }
        digest = entry_hash(head.hash, fields)
        entry = AuditEntry.objects.create(prev_hash=head.hash, hash=digest, **fields)
        AuditChainHead.objects.filter(id=1).update(seq=fields["seq"], hash=digest)
    return entry


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_bad_seq: int | None


def _fields_of(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in HASHED_FIELDS}


def verify(chunk_size: int = 2000) -> Verification:
    """Recompute the chain from the first entry. Names the first entry that does not fit: an
    altered entry, a gap in the sequence, or a missing tail (the head says there were more)."""
    prev_hash, expected_seq, count = GENESIS_HASH, 1, 0
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=chunk_size):
        if (
            entry.seq != expected_seq
            or entry.prev_hash != prev_hash
            or entry_hash(prev_hash, _fields_of(entry)) != entry.hash
        ):
            return Verification(ok=False, entries=count, first_bad_seq=expected_seq)
        prev_hash, expected_seq, count = entry.hash, expected_seq + 1, count + 1
    head = AuditChainHead.objects.filter(id=1).first()
    if head is not None and (head.seq != count or head.hash != prev_hash):
        return Verification(ok=False, entries=count, first_bad_seq=count + 1)
    return Verification(ok=True, entries=count, first_bad_seq=None)


def export_rows(queryset) -> Iterator[dict[str, Any]]:
    for entry in queryset.order_by("seq").iterator(chunk_size=2000):
        row = _fields_of(entry)
        row["at"] = entry.at.isoformat()
        row["prev_hash"] = entry.prev_hash
        row["hash"] = entry.hash
        yield row
