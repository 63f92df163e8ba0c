"""Helpers shared by the approvals pages."""

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.http import HttpRequest

from portal.errors import Conflict, Invalid, PermissionDenied
from portal.web import FORM_ERROR_STATUS, apply_domain_error, found
from prompts import selectors as prompt_selectors
from prompts.models import Prompt

T = TypeVar("T")

INBOX_PER_PAGE = 50
OWN_REQUESTS_PER_PAGE = 20
AUDIT_PER_PAGE = 50


def attempt(form: forms.BaseForm, action: Callable[[dict[str, Any]], T]) -> tuple[T | None, int]:
    """Like `portal.web.submit`, and also answers the status of a refusal: the domain error's
    own (403 refused, 409 conflict, 422 invalid), so a four-eyes refusal is a 403 too."""
    if not form.is_valid():
        return None, FORM_ERROR_STATUS
    try:
        return action(form.cleaned_data), 200
    except (Invalid, Conflict, PermissionDenied) as exc:
        apply_domain_error(form, exc)
        return None, exc.status


def prompt_or_404(request: HttpRequest, namespace: str, name: str) -> Prompt:
    return found(prompt_selectors.prompt_get, user=request.user, namespace=namespace, name=name)
