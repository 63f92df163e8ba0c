"""Append to the audit log: hash-chained, serialized on the chain head's row lock."""

import hashlib
import json
from typing import Any

from django.db import transaction
from django.utils import timezone

from portal import request_context
from portal.audit.models import HASHED_FIELDS, AuditChainHead, AuditEntry
from portal.principals import Principal, ServicePrincipal


def _json_native(value: Any) -> Any:
    return None if value is None else json.loads(json.dumps(value, default=str))


def canonical(fields: dict[str, Any]) -> str:
    body = {name: fields[name] for name in HASHED_FIELDS}
    body["at"] = fields["at"].isoformat()
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(fields)).encode()).hexdigest()


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
        digest = entry_hash(head.hash, fields)
        entry = AuditEntry.objects.create(prev_hash=head.hash, hash=digest, **fields)
        AuditChainHead.objects.filter(id=1).update(seq=fields["seq"], hash=digest)
    return entry
