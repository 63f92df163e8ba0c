"""Portal pages of the prompt lifecycle: one page with the deprecate, retire and reactivate
forms (plain POST forms, no script); the rules are the services' (prompts.lifecycle)."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal.web import error_status, found, submit
from prompts import lifecycle, selectors
from prompts.forms import DeprecateForm, ReactivateForm, RetireForm
from prompts.models import Prompt


def _prompt(request: HttpRequest, namespace: str, name: str) -> Prompt:
    return found(selectors.prompt_get, user=request.user, namespace=namespace, name=name)


def _page(request: HttpRequest, prompt: Prompt, status: int = 200, **bound: Any) -> HttpResponse:
    initial = {}
    if prompt.state == Prompt.State.DEPRECATED:
        initial = {
            "reason": prompt.deprecation_reason,
            "sunset_at": timezone.localtime(prompt.sunset_at).date() if prompt.sunset_at else None,
            "successor": prompt.successor.full_name if prompt.successor_id else "",
        }
    context = {
        "prompt": prompt,
        "may_change": lifecycle.may_change_lifecycle(request.user, prompt),
        "may_retire": lifecycle.may_retire_now(request.user, prompt),
        "sunset_passed": lifecycle.sunset_passed(prompt),
        "deprecate_form": bound.get("deprecate") or DeprecateForm(initial=initial),
        "retire_form": bound.get("retire") or RetireForm(),
        "reactivate_form": bound.get("reactivate") or ReactivateForm(),
    }
    return render(request, "prompts/lifecycle.html", context, status=status)


@login_required
def lifecycle_page(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    return _page(request, _prompt(request, namespace, name))


def _step(
    request: HttpRequest,
    prompt: Prompt,
    key: str,
    form: forms.Form,
    action: Callable[[dict[str, Any]], Prompt],
    done: str,
) -> HttpResponse:
    submit(form, action)
    if form.errors:
        return _page(request, prompt, status=error_status(form), **{key: form})
    messages.success(request, done)
    return redirect("prompts:detail", prompt.namespace.slug, prompt.name)


def _deprecate(request: HttpRequest, prompt: Prompt, data: dict[str, Any]) -> Prompt:
    successor = None
    if data["successor"].strip():
        successor = lifecycle.successor_get(actor=request.user, full_name=data["successor"])
    return lifecycle.prompt_deprecate(
        actor=request.user,
        prompt=prompt,
        reason=data["reason"],
        sunset_at=data["sunset_at"],
        successor=successor,
    )


@login_required
@require_POST
def deprecate(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    prompt = _prompt(request, namespace, name)
    form = DeprecateForm(request.POST)
    return _step(
        request,
        prompt,
        "deprecate",
        form,
        lambda data: _deprecate(request, prompt, data),
        f"Deprecated {prompt.full_name}: consumers are warned from now on.",
    )


@login_required
@require_POST
def retire(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    prompt = _prompt(request, namespace, name)
    return _step(
        request,
        prompt,
        "retire",
        RetireForm(request.POST),
        lambda data: lifecycle.prompt_retire(
            actor=request.user, prompt=prompt, reason=data["justification"]
        ),
        f"Retired {prompt.full_name}: resolving it answers 410 Gone.",
    )


@login_required
@require_POST
def reactivate(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    prompt = _prompt(request, namespace, name)
    return _step(
        request,
        prompt,
        "reactivate",
        ReactivateForm(request.POST),
        lambda data: lifecycle.prompt_reactivate(
            actor=request.user, prompt=prompt, reason=data["justification"]
        ),
        f"{prompt.full_name} is active again.",
    )
