"""Bridges from Django's model validation and database constraints to domain errors."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction

from portal.errors import Conflict, ErrorCode, Invalid


def clean_or_invalid(instance: models.Model, *, exclude: list[str] | None = None) -> None:
    """Run `full_clean` and turn its ValidationError into `Invalid` with per-field messages."""
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        errors = {
            ("non_field_errors" if field == NON_FIELD_ERRORS else field): messages
            for field, messages in exc.message_dict.items()
        }
        first_field, first_messages = next(iter(errors.items()))
        raise Invalid(f"{first_field}: {first_messages[0]}", errors=errors) from exc


@contextmanager
def conflict_on_integrity_error(detail: str) -> Iterator[None]:
    """A concurrent writer won the race for a unique row: answer 409, not 500."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        raise Conflict(detail, code=ErrorCode.ALREADY_EXISTS) from exc
