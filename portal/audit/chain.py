"""The audit chain's seal and its check, apart from any query.

Each entry is sealed with HMAC-SHA256 under the key its `key_id` names (AUDIT_CHAIN_KEY, or one
of AUDIT_CHAIN_OLD_KEYS after a rotation), over its canonical form: the JSON object of
SEALED_FIELDS (the entry, `key_id` and `prev_hash`, the previous entry's seal), keys sorted,
separators "," and ":", non-ASCII characters as they are, encoded as UTF-8, `at` in ISO 8601 as
the export writes it. That is an exported JSON Lines row without its `hash`, so an auditor who
holds the key verifies an export offline (README, "Audit chain and exports").
"""

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from portal.audit.models import GENESIS_HASH, SEALED_FIELDS, AuditEntry


def canonical(fields: Mapping[str, Any]) -> bytes:
    body = {name: fields[name] for name in SEALED_FIELDS}
    if not isinstance(body["at"], str):
        body["at"] = body["at"].isoformat()
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def seal(fields: Mapping[str, Any], secret: str) -> str:
    return hmac.new(secret.encode(), canonical(fields), hashlib.sha256).hexdigest()


def signing_key() -> tuple[str, str]:
    """The current key: (key id, secret)."""
    return settings.AUDIT_CHAIN_KEY_ID, settings.AUDIT_CHAIN_KEYS[settings.AUDIT_CHAIN_KEY_ID]


def verification_keys() -> Mapping[str, str]:
    """Every key an entry may be sealed with: the current one and the old ones."""
    return settings.AUDIT_CHAIN_KEYS


@dataclass(frozen=True)
class Verification:
    """The check of a run of entries after `after_seq`. `last_seq` and `last_hash` are the last
    entry that verified; `complete` when the run reached the end of the chain (and the chain
    head was compared with it)."""

    ok: bool
    entries: int
    first_bad_seq: int | None
    reason: str = ""
    key_ids: tuple[str, ...] = ()
    after_seq: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    complete: bool = True


def _problem(entry: AuditEntry, *, seq: int, prev_hash: str, keys: Mapping[str, str]) -> str:
    if entry.seq != seq:
        return f"entry #{seq} is missing (the next one is #{entry.seq})"
    if not entry.key_id:
        return f"entry #{seq} carries no key id (an unkeyed entry)"
    if entry.key_id not in keys:
        return (
            f"entry #{seq} is sealed with key id '{entry.key_id}', which is not configured "
            "(AUDIT_CHAIN_KEY, AUDIT_CHAIN_OLD_KEYS)"
        )
    if entry.prev_hash != prev_hash:
        return f"entry #{seq} does not link to the entry before it"
    fields = {name: getattr(entry, name) for name in SEALED_FIELDS}
    if not hmac.compare_digest(seal(fields, keys[entry.key_id]), entry.hash):
        return f"entry #{seq} does not match its seal (key id '{entry.key_id}')"
    return ""


def walk(
    entries: Iterable[AuditEntry], *, after_seq: int, after_hash: str, keys: Mapping[str, str]
) -> Verification:
    """Check entries in `seq` order, the first of them following `after_seq` (sealed
    `after_hash`); stop at the first that does not fit."""
    last_seq, last_hash, count, seen = after_seq, after_hash, 0, set()
    for entry in entries:
        problem = _problem(entry, seq=last_seq + 1, prev_hash=last_hash, keys=keys)
        if problem:
            return Verification(
                ok=False,
                entries=count,
                first_bad_seq=last_seq + 1,
                reason=problem,
                key_ids=tuple(sorted(seen)),
                after_seq=after_seq,
                last_seq=last_seq,
                last_hash=last_hash,
            )
        seen.add(entry.key_id)
        last_seq, last_hash, count = entry.seq, entry.hash, count + 1
    return Verification(
        ok=True,
        entries=count,
        first_bad_seq=None,
        key_ids=tuple(sorted(seen)),
        after_seq=after_seq,
        last_seq=last_seq,
        last_hash=last_hash,
    )
