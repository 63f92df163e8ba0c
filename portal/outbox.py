"""The transactional outbox: cache invalidations and Celery tasks owed by a committed change.

Services call `invalidate` and `enqueue` inside their transaction; each writes an
`OutboxMessage` row there. After the commit, the messages of that transaction are delivered
at once (one Redis round trip for the invalidations, one bounded publish per task), so the
next request on any process sees the change. What cannot be delivered stays in the table and
the `portal.drain_outbox` beat task delivers it later: the change's invalidation survives a
Redis outage and the death of the process that made it. Nothing here ever fails the request
whose change committed.
"""

import logging
from typing import Any

from celery import Task, current_app
from django.conf import settings
from django.db import connection, transaction

from portal.cache import breaker, write_now
from portal.models import OutboxMessage

logger = logging.getLogger(__name__)
DRAIN_BATCH = 500
_PENDING = "_outbox_pending"


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("Outbox messages are written inside the transaction that owes them.")


def _record(kind: str, payload: dict[str, Any]) -> None:
    _require_transaction()
    message = OutboxMessage.objects.create(kind=kind, payload=payload)
    pending = getattr(connection, _PENDING, None)
    if pending is None:
        pending = []
        setattr(connection, _PENDING, pending)
    pending.append(message.pk)
    # One callback per message (a rolled-back savepoint drops its own), each delivering what
    # is pending: the first delivers everything, the others find nothing left.
    transaction.on_commit(_deliver_pending, robust=True)


def invalidate(*keys: str) -> None:
    """Delete these cache keys once the transaction commits."""
    if keys:
        _record(OutboxMessage.Kind.CACHE, {"delete": sorted(set(keys))})


def put(values: dict[str, Any]) -> None:
    """Set these cache keys (JSON values, for `RESOLVE_CACHE_MAX_AGE`) once the transaction commits:
    tombstones that a concurrent reader's `add` must not overwrite."""
    if values:
        _record(OutboxMessage.Kind.CACHE, {"set": values})


def enqueue(task: str, *args: Any) -> None:
    """Queue the Celery task registered as `task` with JSON arguments once the transaction
    commits. (By name: an app's tasks call its services, which queue them.)"""
    _task(task)  # an unknown name is a programming error: fail here, not in the drain
    _record(OutboxMessage.Kind.TASK, {"task": task, "args": list(args)})


def _deliver_pending() -> None:
    ids = getattr(connection, _PENDING, None)
    if not ids:
        return
    setattr(connection, _PENDING, [])
    try:
        drain(ids=ids)
    except Exception:  # the change committed: it must never be reported as failed
        logger.exception("outbox delivery after commit failed; the beat task will retry")


def _deliver_cache(messages: list[OutboxMessage]) -> bool:
    deletes: list[str] = []
    sets: dict[str, Any] = {}
    for message in messages:
        deletes += message.payload.get("delete", [])
        sets.update(message.payload.get("set", {}))
    if write_now(delete=deletes, set_values=sets, timeout=settings.RESOLVE_CACHE_MAX_AGE):
        return True
    for message in messages:
        message.last_error = "Redis did not take the invalidation."
    return False


def _task(name: str) -> Task:
    app = current_app
    if name not in app.tasks:
        app.loader.import_default_modules()  # Celery's autodiscovery of the apps' tasks
    return app.tasks[name]


def _publish(message: OutboxMessage) -> bool:
    if breaker.is_open():
        message.last_error = "Redis failed recently; left for the beat task."
        return False
    try:
        with transaction.atomic():  # an eager task that fails undoes only its own writes
            _task(message.payload["task"]).apply_async(args=message.payload["args"], retry=False)
    except Exception as exc:
        logger.error("could not publish %s: %s", message.payload["task"], exc)
        message.last_error = str(exc)[:500]
        return False
    return True


def drain(*, ids: list[int] | None = None, limit: int = DRAIN_BATCH) -> int:
    """Deliver owed messages (these, or the oldest `limit`); returns how many were delivered.
    Rows another drainer holds are skipped, so concurrent drains deliver each message once."""
    with transaction.atomic():
        pending = OutboxMessage.objects.select_for_update(skip_locked=True).order_by("pk")
        if ids is not None:
            pending = pending.filter(pk__in=ids)
        messages = list(pending[:limit])
        if not messages:
            return 0
        caches = [m for m in messages if m.kind == OutboxMessage.Kind.CACHE]
        delivered = caches if caches and _deliver_cache(caches) else []
        if len(delivered) == len(caches):  # Redis answered: publish the tasks too
            for message in (m for m in messages if m.kind == OutboxMessage.Kind.TASK):
                if not _publish(message):
                    break
                delivered.append(message)
        done = {message.pk for message in delivered}
        OutboxMessage.objects.filter(pk__in=done).delete()
        failed = [message for message in messages if message.pk not in done]
        for message in failed:
            message.attempts += 1
        OutboxMessage.objects.bulk_update(failed, ["attempts", "last_error"])
    if failed:
        logger.warning("%d outbox messages wait for Redis", len(failed))
    return len(done)
