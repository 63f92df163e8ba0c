"""Deployment history per environment, and rollback."""

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from approvals import selectors, services
from approvals.forms import (
    RollbackForm,
)
from approvals.permissions import holds_promotion_right
from approvals.views.common import (
    attempt,
    prompt_or_404,
)
from portal.web import FORM_ERROR_STATUS, SlugChoiceField, require_or_403
from prompts import selectors as prompt_selectors
from prompts.models import Deployment, Environment, Prompt, PromptVersion

# --- Deployment history and rollback ----------------------------------------------------------


@dataclass(frozen=True)
class EnvironmentHistory:
    environment: Environment
    deployment: Deployment | None
    changes: list
    may_roll_back: bool
    rollback_form: RollbackForm | None


def _rollback_candidates(prompt: Prompt, row: Any) -> list[PromptVersion]:
    return [
        version
        for version in services.previous_versions(prompt=prompt, environment=row.environment)
        if version.pk != row.deployment.version_id
    ]


def _history_page(
    request: HttpRequest,
    prompt: Prompt,
    status: int = 200,
    bound: RollbackForm | None = None,
    **extra: Any,
) -> HttpResponse:
    changes: dict[int, list] = {}
    for change in selectors.deployment_changes(prompt=prompt):
        changes.setdefault(change.environment.pk, []).append(change)
    environments = []
    for row in prompt_selectors.prompt_deployments(prompt=prompt):
        environment = row.environment
        may_roll_back = row.deployment is not None and holds_promotion_right(
            request.user, prompt.namespace, environment
        )
        form = None
        if bound is not None and bound.environment == environment:
            form = bound
        elif may_roll_back:
            candidates = _rollback_candidates(prompt, row)
            form = RollbackForm(environment=environment, candidates=candidates)
        environments.append(
            EnvironmentHistory(
                environment=environment,
                deployment=row.deployment,
                changes=changes.get(environment.pk, []),
                may_roll_back=may_roll_back,
                rollback_form=form,
            )
        )
    context = {"prompt": prompt, "environments": environments, **extra}
    return render(request, "approvals/deployment_history.html", context, status=status)


@login_required
def deployment_history(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    return _history_page(request, prompt_or_404(request, namespace, name))


def _posted_environment(request: HttpRequest) -> Environment | None:
    try:
        return SlugChoiceField(queryset=Environment.objects.all()).clean(
            request.POST.get("environment")
        )
    except ValidationError:
        return None


def _confirm_page(
    request: HttpRequest, prompt: Prompt, row: Any, form: RollbackForm
) -> HttpResponse:
    """The step before a rollback: what runs now, what will run, and a plain warning when the
    target is newer than what runs or was itself rolled back from."""
    environment = row.environment
    target = form.cleaned_data["version"] or next(iter(form.candidates.values()))
    changes = selectors.deployment_changes(prompt=prompt, environment_slug=environment.slug)
    context = {
        "prompt": prompt,
        "environment": environment,
        "current": row.deployment.version,
        "target": target,
        "justification": form.cleaned_data["justification"],
        "forward": target.number > row.deployment.version.number,
        "rolled_back": selectors.rolled_back_from(changes).get(target.pk),
    }
    return render(request, "approvals/rollback_confirm.html", context)


@login_required
@require_POST
def rollback(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    prompt = prompt_or_404(request, namespace, name)
    environment = _posted_environment(request)
    if environment is None:
        return _history_page(
            request,
            prompt,
            status=FORM_ERROR_STATUS,
            rollback_error="Choose an environment to roll back.",
        )
    require_or_403(
        holds_promotion_right(request.user, prompt.namespace, environment),
        f"You do not hold the promotion right for {prompt.namespace.slug} in {environment.slug}.",
    )
    row = next(
        row
        for row in prompt_selectors.prompt_deployments(prompt=prompt)
        if row.environment == environment
    )
    candidates = _rollback_candidates(prompt, row) if row.deployment else []
    form = RollbackForm(request.POST, environment=environment, candidates=candidates)
    if request.POST.get("confirmed") != "yes" and form.is_valid() and candidates:
        return _confirm_page(request, prompt, row, form)
    deployment, status = attempt(
        form,
        lambda data: services.rollback(
            actor=request.user,
            prompt=prompt,
            environment=environment,
            version=data["version"],
            justification=data["justification"],
        ),
    )
    if form.errors:
        return _history_page(request, prompt, status=status, bound=form)
    messages.success(
        request, f"Rolled back {environment.name}: it now runs v{deployment.version.number}."
    )
    url = reverse("approvals:deployments", args=[prompt.namespace.slug, prompt.name])
    return redirect(f"{url}#env-{environment.slug}")
