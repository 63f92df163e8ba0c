"""Experiments through the promotion workflow: proposing one is a promotion request of kind
`experiment` in an environment that requires approval (same reviewers, four-eyes, audit and
notifications); it starts at once elsewhere. Stopping with a winner deploys the winner through
the normal promotion path."""

from typing import Any

from django.conf import settings

from approvals.models import PromotionRequest
from approvals.services.common import lock_prompt, notify, require_text
from approvals.services.gate import versions_gate_refusal
from approvals.services.promotions import open_request, promotion_request
from portal.transactions import atomic_write
from prompts import experiments
from prompts.experiments import fit
from prompts.metrics.guardrails import guardrails_clean
from prompts.models import Environment, Experiment, Prompt
from teams import permissions
from teams.permissions import Principal, require


@atomic_write
def experiment_propose(
    *,
    actor: Principal,
    prompt: Prompt,
    environment: Environment,
    arms: Any,
    hypothesis: str,
    primary_metric: str,
    justification: str,
    guardrails: Any = None,
    minimum_detectable_effect: float | None = None,
) -> Experiment:
    """Running at once where the environment needs no approval; otherwise pending, with its
    request (which supersedes any older pending request for the environment)."""
    justification = require_text(justification, "justification", "A justification")
    cleaned = guardrails_clean(guardrails if guardrails is not None else [])
    prompt = lock_prompt(prompt)
    environment = Environment.objects.get(pk=environment.pk)  # its rules as they are now
    experiment = experiments.experiment_create(
        actor=actor,
        prompt=prompt,
        environment=environment,
        arms=arms,
        hypothesis=hypothesis,
        primary_metric=primary_metric,
        guardrails=cleaned,
        minimum_detectable_effect=minimum_detectable_effect,
    )
    challengers = [
        arm.version for arm in experiment.arms.select_related("version") if not arm.is_control
    ]
    refusal = versions_gate_refusal(prompt=prompt, versions=challengers, environment=environment)
    if refusal is not None and not environment.requires_approval:
        raise refusal  # nothing would wait for the runs: refused, like a promotion
    if not environment.requires_approval:
        return experiments.experiment_start(
            actor=actor, experiment=experiment, justification=justification
        )
    arms_by_label = {arm.label: arm for arm in experiment.arms.select_related("version")}
    control = arms_by_label["A"]
    request = open_request(
        actor=actor,
        prompt=prompt,
        environment=environment,
        version=arms_by_label["B"].version,
        previous_version=control.version,
        justification=justification,
        experiment=experiment,
    )
    notify(request, "requested")
    return experiment


@atomic_write
def experiment_end(
    *,
    actor: Principal,
    experiment: Experiment,
    reason: str,
    winner: str | None = None,
) -> tuple[Experiment, PromotionRequest | None]:
    """Stop a running experiment (traffic back to the control at once). A winner other than
    the control is then requested for the environment like any promotion: applied at once
    where no approval is needed, pending for reviewers otherwise. Both or neither."""
    reason = require_text(reason, "reason", "A reason")
    prompt = lock_prompt(experiment.prompt)
    if winner is not None and winner != "A":
        require(
            permissions.can_request_promotion(actor, prompt.namespace),
            f"Only maintainers and owners of {prompt.namespace.team.slug} request the winner's "
            "promotion; stop without a winner, or ask one of them.",
        )
    experiment = experiments.experiment_stop(
        actor=actor,
        experiment=experiment,
        cause=Experiment.StopCause.MANUAL,
        reason=reason,
        winner=winner,
    )
    if experiment.winner is None or experiment.winner.is_control:
        return experiment, None
    request = promotion_request(
        actor=actor,
        prompt=experiment.prompt,
        version=experiment.winner.version,
        environment=experiment.environment,
        justification=fit(
            f"Winner (arm {winner}) of experiment #{experiment.pk}: {reason}",
            settings.MAX_NOTE_BYTES,
        ),
    )
    return experiment, request
