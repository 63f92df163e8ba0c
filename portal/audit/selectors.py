"""Reads of the audit log: filtered entries, the chain's verification, exports."""

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from django.db.models import QuerySet

from portal.audit.chain import Verification, verification_keys, walk
from portal.audit.models import (
    EXPORTED_FIELDS,
    GENESIS_HASH,
    AuditChainHead,
    AuditChainVerification,
    AuditEntry,
)


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


def _head() -> tuple[int, str]:
    head = AuditChainHead.objects.filter(id=1).values_list("seq", "hash").first()
    return head or (0, GENESIS_HASH)


def _with_head(result: Verification, *, head_seq: int, head_hash: str) -> Verification:
    """The end of the chain was reached: the chain head (read before the entries, so later
    appends are not a missing tail) must agree with it."""
    if head_seq < result.after_seq:
        seq = head_seq + 1
        reason = f"the chain head is at #{head_seq}, behind #{result.after_seq}, verified before"
    elif head_seq > result.last_seq:
        seq = result.last_seq + 1
        reason = f"entry #{seq} is missing (the chain head is at #{head_seq})"
    elif head_seq == result.last_seq and head_hash != result.last_hash:
        seq = head_seq + 1
        reason = f"the chain head does not match entry #{head_seq}"
    else:
        return result
    return replace(result, ok=False, first_bad_seq=seq, reason=reason)


def verify_from(
    *,
    after_seq: int = 0,
    after_hash: str = GENESIS_HASH,
    limit: int | None = None,
    chunk_size: int = 2000,
) -> Verification:
    """Verify the entries after `after_seq` (whose seal is `after_hash`), at most `limit` of
    them, streamed in chunks. Names the first entry that does not fit: altered, sealed with
    another or an unknown key, a gap in the sequence, or a missing tail."""
    head_seq, head_hash = _head()
    entries = AuditEntry.objects.filter(seq__gt=after_seq).order_by("seq")
    if limit is not None:
        entries = entries[:limit]
    result = walk(
        entries.iterator(chunk_size=chunk_size),
        after_seq=after_seq,
        after_hash=after_hash,
        keys=verification_keys(),
    )
    if not result.ok:
        return replace(result, complete=False)
    if limit is not None and result.entries == limit and result.last_seq < head_seq:
        return replace(result, complete=False)
    return _with_head(result, head_seq=head_seq, head_hash=head_hash)


def verify(*, chunk_size: int = 2000) -> Verification:
    """The whole chain, from the first entry, streamed (the management command's pass)."""
    return verify_from(chunk_size=chunk_size)


def verify_recent(*, window: int) -> Verification:
    """The newest `window` entries, each checked against the one before the window."""
    head_seq, _ = _head()
    after_seq = max(head_seq - window, 0)
    after_hash = (
        AuditEntry.objects.filter(seq=after_seq).values_list("hash", flat=True).first()
        if after_seq
        else GENESIS_HASH
    )
    if after_hash is None:
        return Verification(
            ok=False,
            entries=0,
            first_bad_seq=after_seq,
            reason=f"entry #{after_seq} is missing (the chain head is at #{head_seq})",
            after_seq=after_seq,
            complete=False,
        )
    return verify_from(after_seq=after_seq, after_hash=after_hash, limit=window)


@dataclass(frozen=True)
class ChainStatus:
    """What the verify page and endpoint answer: the newest entries verified now, and the
    record of Celery beat's continuous re-verification of the whole chain (None before its
    first run). Not ok when either found a broken entry."""

    recent: Verification
    background: AuditChainVerification | None

    @property
    def ok(self) -> bool:
        return self.recent.ok and (self.background is None or self.background.failed_seq is None)

    @property
    def first_bad_seq(self) -> int | None:
        if not self.recent.ok:
            return self.recent.first_bad_seq
        return None if self.background is None else self.background.failed_seq

    @property
    def reason(self) -> str:
        if not self.recent.ok:
            return self.recent.reason
        return "" if self.background is None else self.background.failure


def chain_status(*, window: int) -> ChainStatus:
    return ChainStatus(
        recent=verify_recent(window=window),
        background=AuditChainVerification.objects.filter(id=1).first(),
    )


def export_rows(queryset: QuerySet[AuditEntry]) -> Iterator[dict[str, Any]]:
    """Every exported field as JSON values (`at` in ISO 8601, as the seal covers it)."""
    for entry in queryset.order_by("seq").iterator(chunk_size=2000):
        row = {name: getattr(entry, name) for name in EXPORTED_FIELDS}
        row["at"] = entry.at.isoformat()
        yield row
