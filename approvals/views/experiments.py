"""The experiment pages: one experiment with its per-arm results and the stop form, and the
form that proposes one."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from approvals.experiment_forms import ExperimentForm, ExperimentStopForm
from approvals.services.experiments import experiment_end, experiment_propose
from approvals.views.common import attempt, prompt_or_404
from portal.web import found, require_or_403
from prompts import experiments
from prompts import selectors as prompt_selectors
from prompts.metrics.results import experiment_results
from prompts.metrics.results_api import results_json
from prompts.models import Experiment
from teams import permissions


def _experiment_or_404(request: HttpRequest, pk: int) -> Experiment:
    return found(prompt_selectors.experiment_get, user=request.user, experiment_id=pk)


@login_required
@require_http_methods(["GET", "POST"])
def experiment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = _experiment_or_404(request, pk)
    may_stop = experiment.is_running and experiments.may_stop(request.user, experiment)
    arms = sorted(experiment.arms.all(), key=lambda arm: arm.label)
    may_pick_winner = permissions.can_request_promotion(request.user, experiment.prompt.namespace)
    form = ExperimentStopForm(arms=arms, data=request.POST or None, may_pick_winner=may_pick_winner)
    status = 200
    if request.method == "POST":
        result, status = attempt(
            form,
            lambda data: experiment_end(
                actor=request.user,
                experiment=experiment,
                reason=data["reason"],
                winner=data.get("winner") or None,
            ),
        )
        if result is not None:
            stopped, promotion = result
            messages.success(request, f"Experiment #{stopped.pk} stopped; the control runs.")
            if promotion is not None:
                messages.info(request, f"The winner's promotion is request #{promotion.pk}.")
                return redirect("approvals:request", promotion.pk)
            return redirect("approvals:experiment", stopped.pk)
    context = {
        "experiment": experiment,
        "prompt": experiment.prompt,
        "arms": arms,
        "may_stop": may_stop,
        "form": form,
        "results": None
        if experiment.started_at is None
        else results_json(experiment_results(experiment=experiment)),
    }
    return render(request, "approvals/experiment_detail.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def experiment_create(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    prompt = prompt_or_404(request, namespace, name)
    require_or_403(
        permissions.can_request_promotion(request.user, prompt.namespace),
        f"Only maintainers and owners of {prompt.namespace.team.slug} start experiments.",
    )
    versions = list(prompt.versions.order_by("-number"))
    deployed = {d.environment.slug: d.version.number for d in prompt.deployments.all()}
    initial = {"environment": "production", "arm_A_weight": 50, "arm_B_weight": 50}
    if "production" in deployed:
        initial["arm_A_version"] = deployed["production"]
    form = ExperimentForm(versions=versions, data=request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        experiment, status = attempt(
            form,
            lambda data: experiment_propose(
                actor=request.user,
                prompt=prompt,
                environment=data["environment"],
                arms=data["arms"],
                hypothesis=data["hypothesis"],
                primary_metric=data["primary_metric"],
                guardrails=data["guardrails"],
                minimum_detectable_effect=data["minimum_detectable_effect"],
                justification=data["justification"],
            ),
        )
        if experiment is not None:
            if experiment.is_running:
                messages.success(request, f"Experiment #{experiment.pk} runs now.")
            else:
                messages.success(
                    request, f"Experiment #{experiment.pk} waits for approval of its request."
                )
            return redirect("approvals:experiment", experiment.pk)
    context = {"prompt": prompt, "form": form, "deployed": deployed}
    return render(request, "approvals/experiment_form.html", context, status=status)
