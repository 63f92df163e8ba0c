"""The gate's "Run what is missing" button (shown on a promotion request's page): start a
run, trigger "gate", of every suite the gate of a version in an environment still waits for."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portal.errors import Conflict, Invalid
from portal.web import found, require_or_403
from prompts.evaluations.gate_runs import gate_run_missing
from prompts.models import Environment
from prompts.selectors import prompt_get, prompt_version_get
from teams.permissions import can_edit_prompts


@login_required
@require_POST
def gate_run(
    request: HttpRequest, namespace: str, name: str, number: int, environment: str
) -> HttpResponse:
    prompt = found(prompt_get, user=request.user, namespace=namespace, name=name)
    version = found(prompt_version_get, prompt=prompt, number=number)
    target = get_object_or_404(Environment, slug=environment)
    require_or_403(
        can_edit_prompts(request.user, prompt.namespace),
        f"Only people who may edit the prompts of {prompt.namespace.slug} run its evaluations.",
    )
    try:
        started = gate_run_missing(
            actor=request.user, prompt=prompt, version=version, environment=target
        )
    except (Invalid, Conflict) as exc:
        messages.error(request, exc.detail)
    else:
        if started:
            names = ", ".join(run.suite.name for run in started)
            messages.success(
                request, f"Started {len(started)} run(s) on the gate's model: {names}."
            )
        else:
            messages.info(request, "Nothing to run: every suite has passed or is running.")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("evaluations:runs", args=[prompt.namespace.slug, prompt.name])
    return redirect(next_url)
