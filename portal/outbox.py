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
from kombu.exceptions import OperationalError

from portal.cache import broker_breaker, write_now
from portal.models import OutboxMessage

logger = logging.getLogger(__name__)
DRAIN_BATCH = 500
# A message that failed this often is left alone (a renamed task, say): shown in the admin.
MAX_ATTEMPTS = 50
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


def publish(task: Task, *args: Any) -> bool:
    """Send a task now, waiting at most one socket timeout (no retries), or not at all while
    the broker is failing. True once the broker took it."""
    if broker_breaker.is_open():
        return False
    try:
        task.apply_async(args=args, retry=False)
    except (OperationalError, OSError) as exc:  # kombu's "cannot reach the broker"
        broker_breaker.trip(exc)
        return False
    return True


def _publish(message: OutboxMessage) -> bool | None:
    """True: published. False: the broker is unreachable (stop, try the rest later). None:
    this message failed on its own (unknown task, an eager task that raised): skip it."""
    try:
        with transaction.atomic():  # an eager task that fails undoes only its own writes
            if publish(_task(message.payload["task"]), *message.payload["args"]):
                return True
    except Exception as exc:
        logger.exception("outbox task %s failed", message.payload["task"])
        message.last_error = f"{type(exc).__name__}: {exc}"[:500]
        return None
    message.last_error = "The broker is unreachable; left for the beat task."
    return False


def _pending(kind: str, ids: list[int] | None, limit: int) -> list[OutboxMessage]:
    """The oldest owed messages of one kind (or these). The beat drain skips rows another
    drainer holds; a drain after commit waits for it, so its messages are delivered (or
    found delivered) before the response goes out."""
    pending = OutboxMessage.objects.select_for_update(skip_locked=ids is None).filter(
        kind=kind, attempts__lt=MAX_ATTEMPTS
    )
    if ids is not None:
        pending = pending.filter(pk__in=ids)
    return list(pending.order_by("pk")[:limit])


def drain(*, ids: list[int] | None = None, limit: int = DRAIN_BATCH) -> int:
    """Deliver owed messages (these, or the oldest `limit` of each kind); returns how many
    were delivered. Invalidations first; then tasks, unless Redis just failed. A message that
    fails on its own does not hold up the others; after `MAX_ATTEMPTS` it is left for a
    person to look at (the admin lists it with its last error)."""
    with transaction.atomic():
        caches = _pending(OutboxMessage.Kind.CACHE, ids, limit)
        tasks = _pending(OutboxMessage.Kind.TASK, ids, limit)
        attempted = list(caches)
        delivered = caches if caches and _deliver_cache(caches) else []
        if len(delivered) == len(caches):
            for message in tasks:
                attempted.append(message)
                outcome = _publish(message)
                if outcome is False:
                    break
                if outcome:
                    delivered.append(message)
        done = {message.pk for message in delivered}
        OutboxMessage.objects.filter(pk__in=done).delete()
        failed = [message for message in attempted if message.pk not in done]
        for message in failed:
            message.attempts += 1
            if message.attempts == MAX_ATTEMPTS:
                logger.error("outbox message %s gave up: %s", message.pk, message.last_error)
        OutboxMessage.objects.bulk_update(failed, ["attempts", "last_error"])
    if failed:
        logger.warning("%d outbox messages wait for Redis", len(failed))
    return len(done)
