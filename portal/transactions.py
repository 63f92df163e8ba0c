"""The transaction every governance write runs in.

`atomic_write` is `transaction.atomic` that, as the outermost transaction, runs the function
once more when the database aborted it as a deadlock victim or a serialization failure (the
writes of the first attempt are rolled back, its on-commit work dropped). A second abort is
a `Conflict` (409, `concurrent_write`): never a 500. Nested calls join the outer transaction,
which retries as a whole.

Locks are always taken in this order (docs/locking.md): user → team (by id) → namespace →
promotion scope → prompt → deployment → promotion request → audit chain head. The audit head
comes last: every service appends its entries after it has locked everything it changes.
"""

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError, connection, transaction

from portal.errors import Conflict, ErrorCode

logger = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
# PostgreSQL: deadlock_detected, serialization_failure.
RETRYABLE_SQLSTATES = {"40P01", "40001"}


def is_retryable(exc: BaseException) -> bool:
    cause = exc.__cause__
    return isinstance(exc, OperationalError) and (
        getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES
        or "database is locked" in str(exc)  # SQLite's busy timeout ran out
    )


def atomic_write(function: Callable[P, T]) -> Callable[P, T]:
    atomic = transaction.atomic(function)

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        if connection.in_atomic_block:
            return atomic(*args, **kwargs)
        try:
            return atomic(*args, **kwargs)
        except OperationalError as exc:
            if not is_retryable(exc):
                raise
            logger.warning("%s aborted by the database (%s); retrying once", function, exc)
        try:
            return atomic(*args, **kwargs)
        except OperationalError as exc:
            if not is_retryable(exc):
                raise
            raise Conflict(
                "A concurrent change collided with this one; nothing was changed. Try again.",
                code=ErrorCode.CONCURRENT_WRITE,
            ) from exc

    return run
