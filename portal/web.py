"""Helpers shared by the portal's form views: domain errors onto forms, 404s and 403s."""

import re
from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.http import Http404, HttpRequest

from portal.errors import Conflict, DomainError, Invalid, NotFound, PermissionDenied
from portal.validators import SLUG_PATTERN

T = TypeVar("T")

FORM_ERROR_STATUS = 422


class SlugChoiceField(forms.ModelChoiceField):
    """A choice among rows named by slug; what cannot be a slug (NUL characters included)
    is an invalid choice without reaching the database."""

    def __init__(self, queryset: Any, **kwargs: Any) -> None:
        super().__init__(queryset, to_field_name="slug", **kwargs)

    def to_python(self, value: Any) -> Any:
        if value not in self.empty_values and not re.fullmatch(SLUG_PATTERN, str(value)):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


def apply_domain_error(form: forms.BaseForm, exc: DomainError) -> None:
    """Put a service's refusal on the form: `Invalid` per field where the form has that field,
    everything else (unknown fields, conflicts, permission refusals) as a non-field error."""
    if isinstance(exc, Invalid) and exc.errors:
        for field, messages in exc.errors.items():
            target = field if field in form.fields else None
            for message in messages:
                form.add_error(target, ValidationError(message, code=exc.code))
        return
    code = PermissionDenied.code if isinstance(exc, PermissionDenied) else exc.code
    form.add_error(None, ValidationError(exc.detail, code=code))


def submit(form: forms.BaseForm, action: Callable[[dict[str, Any]], T]) -> T | None:
    """Call `action` with the cleaned data of a valid form. On failure `form.errors` says why."""
    if not form.is_valid():
        return None
    try:
        return action(form.cleaned_data)
    except (Invalid, Conflict, PermissionDenied) as exc:
        apply_domain_error(form, exc)
        return None


def error_status(form: forms.BaseForm) -> int:
    """403 when a service refused the actor, else 422 (the input was wrong)."""
    if form.has_error(NON_FIELD_ERRORS, code=PermissionDenied.code):
        return 403
    return FORM_ERROR_STATUS


def found(selector: Callable[..., T], **kwargs: Any) -> T:
    """Call a selector; an object the user may not see (or that is missing) answers 404."""
    try:
        return selector(**kwargs)
    except NotFound as exc:
        raise Http404(exc.detail) from exc


def error_text(form: forms.BaseForm) -> str:
    """Every error of a form in one sentence, for a flash message or a partial's notice."""
    return " ".join(error for errors in form.errors.values() for error in errors)


def report(request: HttpRequest, form: forms.BaseForm, success: str) -> None:
    """Flash the outcome of a one-button form: its errors, or `success`."""
    if form.errors:
        messages.error(request, error_text(form))
    else:
        messages.success(request, success)


def require_or_403(allowed: bool, detail: str = "You may not do this.") -> None:
    if not allowed:
        raise HttpForbidden(detail)
