"""Writes of the audit log: appends (sealed with the current key, serialized on the chain
head's row lock) and the record of the chain's continuous re-verification."""

import json
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from portal import request_context
from portal.audit import selectors
from portal.audit.chain import seal, signing_key
from portal.audit.models import GENESIS_HASH, AuditChainHead, AuditChainVerification, AuditEntry
from portal.principals import Principal, ServicePrincipal


def _number_as_stored(text: str) -> float | int:
    """PostgreSQL's jsonb keeps numbers as decimals: a float Python writes with a positive
    exponent (from 1e+16 on) reads back as an integer, and the seal covers what reads back."""
    return int(Decimal(text)) if "e+" in text else float(text)


def _json_native(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(json.dumps(value, default=str), parse_float=_number_as_stored)


def _describe(actor: Principal | None) -> tuple[str, str, str]:
    if actor is None:
        return "system", "system", ""
    if isinstance(actor, ServicePrincipal):
        return actor.username, "service", actor.prefix
    return actor.get_username(), "user", request_context.current().token_prefix


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
    it records or not at all. The chain head's lock is held until that commit: callers lock
    every row they change before they append (see docs/locking.md)."""
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
        key_id, secret = signing_key()
        fields |= {"key_id": key_id, "prev_hash": head.hash}
        digest = seal(fields, secret)
        entry = AuditEntry.objects.create(hash=digest, **fields)
        AuditChainHead.objects.filter(id=1).update(seq=fields["seq"], hash=digest)
    return entry


def _restart_pass(state: AuditChainVerification) -> None:
    state.position, state.position_hash = 0, GENESIS_HASH


def _record_failure(state: AuditChainVerification, *, seq: int, reason: str) -> None:
    """A failure is audited when it is new (another entry, or the first since a clean pass)."""
    if state.failed_seq != seq:
        audit(
            actor=None,
            action="audit.chain_broken",
            object_type="audit_chain",
            object_id=seq,
            before=None if state.failed_seq is None else {"first_bad_seq": state.failed_seq},
            after={"first_bad_seq": seq, "reason": reason},
        )
        state.failed_seq, state.failed_at = seq, timezone.now()
    state.failure = reason


def _record_clean_pass(state: AuditChainVerification, *, entries: int) -> None:
    if state.failed_seq is not None:
        audit(
            actor=None,
            action="audit.chain_verified",
            object_type="audit_chain",
            object_id=entries,
            before={"first_bad_seq": state.failed_seq, "reason": state.failure},
            after={"entries": entries, "key_ids": state.pass_key_ids},
        )
    state.failed_seq, state.failure, state.failed_at = None, "", None
    state.last_pass_completed_at = timezone.now()
    state.last_pass_entries = entries
    state.last_pass_key_ids = state.pass_key_ids


@transaction.atomic
def chain_verify_batch(*, batch_size: int) -> AuditChainVerification | None:
    """Verify up to `batch_size` entries after the recorded position and record how far it got.
    At the end of the chain the pass is complete and the next one starts from the first entry;
    a failure is recorded (and audited when new), and the next pass starts over too.

    Returns None when another run holds the record (that run is doing the work)."""
    AuditChainVerification.objects.get_or_create(id=1)
    state = AuditChainVerification.objects.select_for_update(skip_locked=True).filter(id=1).first()
    if state is None:
        return None
    if state.position == 0:
        state.pass_started_at, state.pass_key_ids = timezone.now(), []
    result = selectors.verify_from(
        after_seq=state.position, after_hash=state.position_hash, limit=batch_size
    )
    state.checked_at = timezone.now()
    state.pass_key_ids = sorted(set(state.pass_key_ids) | set(result.key_ids))
    if not result.ok:
        _record_failure(state, seq=result.first_bad_seq, reason=result.reason)
        _restart_pass(state)
    elif result.complete:
        _record_clean_pass(state, entries=result.last_seq)
        _restart_pass(state)
    else:
        state.position, state.position_hash = result.last_seq, result.last_hash
    state.save()
    return state
