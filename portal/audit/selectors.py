"""Reads of the audit log: filtered entries, the chain's verification, exports."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from portal.audit.models import GENESIS_HASH, HASHED_FIELDS, AuditChainHead, AuditEntry
from portal.audit.services import entry_hash


def audit_entries(
    *,
    since=None,
    until=None,
    namespace: str | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.all()
    if since:
        entries = entries.filter(at__gte=since)
    if until:
        entries = entries.filter(at__lt=until)
    if namespace:
        entries = entries.filter(namespace=namespace)
    if actor:
        entries = entries.filter(actor=actor)
    if action:
        entries = entries.filter(action__startswith=action)
    return entries.order_by("seq")


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


def export_rows(queryset: QuerySet[AuditEntry]) -> Iterator[dict[str, Any]]:
    for entry in queryset.order_by("seq").iterator(chunk_size=2000):
        row = _fields_of(entry)
        row["at"] = entry.at.isoformat()
        row["prev_hash"] = entry.prev_hash
        row["hash"] = entry.hash
        yield row
