"""Bridges from Django's model validation and database constraints to domain errors."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
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


# JSON bodies and JSON fields nest at most this deep (a model_config's JSON schema fits).
MAX_JSON_DEPTH = 32


def check_json_value(value: Any, *, field: str = "body") -> None:
    """Refuse what no text column or encoder takes, and structures too deep to walk safely:
    NUL characters, lone surrogates (`"\\ud800"` decodes to a str UTF-8 cannot encode) and
    nesting beyond MAX_JSON_DEPTH. Iterative, so depth itself cannot exhaust the stack."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, field=field)
        elif isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise Invalid.field(
                    field,
                    f"JSON nests deeper than {MAX_JSON_DEPTH} levels.",
                    code=ErrorCode.TOO_DEEP,
                )
            if isinstance(item, dict):
                stack.extend((key, depth + 1) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def check_text(text: str, *, field: str, limit: int | None = None, what: str = "The text") -> str:
    """`text` has no NUL and no lone surrogate and, given a `limit`, at most that many UTF-8
    bytes. Returns it."""
    if "\x00" in text:
        raise Invalid.field(
            field, "NUL characters (\\u0000) are not allowed in text.", code=ErrorCode.INVALID_TEXT
        )
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise Invalid.field(
            field,
            "The text contains a lone surrogate (such as \\ud800), which is not a character.",
            code=ErrorCode.INVALID_TEXT,
        ) from exc
    if limit is not None and size > limit:
        raise Invalid.field(
            field, f"{what} is {size} bytes; at most {limit} are allowed.", code=ErrorCode.TOO_LARGE
        )
    return text


def check_note(text: str, *, field: str, what: str) -> str:
    """A justification, comment or description: at most MAX_NOTE_BYTES."""
    return check_text(text, field=field, limit=settings.MAX_NOTE_BYTES, what=what)
