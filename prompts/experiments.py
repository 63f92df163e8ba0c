"""Experiments: an environment's traffic split between versions of one prompt (A/B tests).

An experiment is proposed (`experiment_create`, state pending), started (`experiment_start`,
by the approvals workflow: at once where the environment needs no approval, when the
promotion request of kind `experiment` is approved otherwise), and stopped
(`experiment_stop`: by a person, by a breached guardrail, or because the environment's
deployment changed or the prompt was retired). A pending one that is never approved is
cancelled (`experiment_cancel`).

Rules checked under the locks (docs/locking.md: prompt → deployment → experiment → promotion
request → audit head): 2–5 arms with whole weights summing to 100; exactly one arm runs the
environment's current version (the control, arm A); every other arm's version already ran in
the environment just below, so nothing untested reaches an environment through an experiment;
one running experiment per prompt and environment (a partial unique constraint as well).

While one runs, resolve serves each caller one arm (`prompts.resolve`), sticky per subject:
`assign_bucket` is the contract the client SDK implements too. Starting and stopping
invalidate the prompt's cached answers after commit, so every consumer sees the split, and
the control again after a stop, on its next resolve.
"""

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone

from portal.audit.services import audit
from portal.errors import Conflict, ErrorCode, Invalid
from portal.transactions import atomic_write
from portal.validation import check_note
from prompts import experiment_arms
from prompts import resolve as resolve_cache
from prompts.models import (
    ARM_LABELS,
    Deployment,
    Environment,
    Experiment,
    ExperimentArm,
    Prompt,
)
from teams import hooks, permissions
from teams.notifications import events
from teams.notifications.services import notify
from teams.permissions import Principal, require


def _lock(prompt: Prompt) -> Prompt:
    return (
        Prompt.objects.select_for_update(of=("self",))
        .select_related("namespace__team")
        .get(pk=prompt.pk)
    )


def _lock_experiment(experiment: Experiment) -> Experiment:
    return (
        Experiment.objects.select_for_update(of=("self",))
        .select_related("prompt__namespace__team", "environment")
        .get(pk=experiment.pk)
    )


def _arms_of(experiment: Experiment) -> list[ExperimentArm]:
    return list(experiment.arms.select_related("version__author").order_by("label"))


def summary(experiment: Experiment, arms: Sequence[ExperimentArm] | None = None) -> dict:
    arms = _arms_of(experiment) if arms is None else arms
    return {
        "experiment": experiment.pk,
        "prompt": experiment.prompt.full_name,
        "environment": experiment.environment.slug,
        "state": experiment.state,
        "primary_metric": experiment.primary_metric,
        "arms": [
            {"arm": arm.label, "version": arm.version.number, "weight": arm.weight} for arm in arms
        ],
    }


def _audit(actor, action: str, experiment: Experiment, justification: str = "", **after):
    audit(
        actor=actor,
        action=action,
        object_type="experiment",
        object_id=experiment.pk,
        namespace=experiment.prompt.namespace.slug,
        justification=justification,
        after={**summary(experiment), **after},
    )


def _tell_team(experiment: Experiment, event: str, subject: str, body: str) -> None:
    notify(
        event=event,
        subject=subject,
        body=body,
        team=experiment.prompt.namespace.team,
        url=reverse("approvals:experiment", args=[experiment.pk]),
        data=summary(experiment),
    )


def _current(prompt: Prompt, environment: Environment) -> Deployment | None:
    return (
        Deployment.objects.select_for_update(of=("self",))
        .select_related("version")
        .filter(prompt=prompt, environment=environment)
        .first()
    )


def _refuse_running(prompt: Prompt, environment: Environment) -> None:
    running = Experiment.objects.filter(
        prompt=prompt, environment=environment, state=Experiment.State.RUNNING
    ).first()
    if running is not None:
        raise Conflict(
            f"Experiment #{running.pk} already runs for {prompt.full_name} in "
            f"{environment.slug}; stop it first.",
            code=ErrorCode.EXPERIMENT_RUNNING,
        )


@atomic_write
def experiment_create(
    *,
    actor: Principal,
    prompt: Prompt,
    environment: Environment,
    arms: Any,
    hypothesis: str,
    primary_metric: str,
    guardrails: list[dict],
    minimum_detectable_effect: float | None = None,
) -> Experiment:
    """Propose an experiment (pending). `guardrails` come already checked by
    `prompts.metrics.guardrails.guardrails_clean` (the approvals workflow calls both)."""
    prompt = _lock(prompt)
    require(
        permissions.can_request_promotion(actor, prompt.namespace),
        f"Only maintainers and owners of {prompt.namespace.team.slug} start experiments.",
    )
    if prompt.state == Prompt.State.RETIRED:
        raise Conflict(f"{prompt.full_name} is retired.", code=ErrorCode.RETIRED)
    hypothesis = check_note((hypothesis or "").strip(), field="hypothesis", what="The hypothesis")
    if not hypothesis:
        raise Invalid.field("hypothesis", "Say what you expect the experiment to show.")
    if primary_metric not in Experiment.Metric.values:
        raise Invalid.field(
            "primary_metric", f"Choose one of {', '.join(Experiment.Metric.values)}."
        )
    if minimum_detectable_effect is not None and not 0 < minimum_detectable_effect <= 1e9:
        raise Invalid.field(
            "minimum_detectable_effect", "A positive difference (at most 10⁹), or none."
        )
    chosen = experiment_arms.parse_arms(prompt, arms)
    current = _current(prompt, environment)
    if current is None:
        raise Conflict(
            f"{prompt.full_name} is not deployed in {environment.slug}: an experiment splits "
            "what an environment runs.",
            code=ErrorCode.NOT_DEPLOYED,
        )
    controls = [(v, w) for v, w in chosen if v.pk == current.version_id]
    if not controls:
        raise Invalid.field(
            "arms",
            f"One arm must be the control: version {current.version.number}, which "
            f"{environment.slug} runs now.",
        )
    below, untested = experiment_arms.untested(
        prompt=prompt,
        environment=environment,
        versions=[v for v, _ in chosen],
        control_id=current.version_id,
    )
    if untested:
        raise Conflict(
            f"Version {', '.join(map(str, untested))} never ran in {below.slug}; "
            f"promote it there before testing it in {environment.slug}.",
            code=ErrorCode.UNTESTED_VERSION,
        )
    _refuse_running(prompt, environment)
    experiment = Experiment.objects.create(
        prompt=prompt,
        environment=environment,
        hypothesis=hypothesis,
        primary_metric=primary_metric,
        minimum_detectable_effect=minimum_detectable_effect,
        guardrails=guardrails,
        created_by=actor,
    )
    ordered = controls + [(v, w) for v, w in chosen if v.pk != current.version_id]
    ExperimentArm.objects.bulk_create(
        ExperimentArm(
            experiment=experiment, label=label, version=version, weight=weight, is_control=i == 0
        )
        for i, (label, (version, weight)) in enumerate(zip(ARM_LABELS, ordered, strict=False))
    )
    _audit(
        actor,
        "experiment.created",
        experiment,
        hypothesis=hypothesis,
        guardrails=guardrails,
        minimum_detectable_effect=minimum_detectable_effect,
    )
    return experiment


@atomic_write
def experiment_start(
    *, actor: Principal | None, experiment: Experiment, justification: str = "", **details
) -> Experiment:
    """Pending → running. Called by the approvals workflow once nothing more is required; the
    control must still be what the environment runs."""
    _lock(experiment.prompt)
    current = _current(experiment.prompt, experiment.environment)
    experiment = _lock_experiment(experiment)
    if experiment.state != Experiment.State.PENDING:
        raise Conflict(
            f"Experiment #{experiment.pk} is {experiment.state}.", code=ErrorCode.UNCHANGED
        )
    prompt = experiment.prompt
    if prompt.state == Prompt.State.RETIRED:
        raise Conflict(f"{prompt.full_name} is retired.", code=ErrorCode.RETIRED)
    arms = _arms_of(experiment)
    control = next(arm for arm in arms if arm.is_control)
    if current is None or current.version_id != control.version_id:
        raise Conflict(
            f"{experiment.environment.slug} no longer runs version {control.version.number}, "
            f"the control of experiment #{experiment.pk}; propose it again.",
            code=ErrorCode.CONTROL_CHANGED,
        )
    _refuse_running(prompt, experiment.environment)
    experiment.state = Experiment.State.RUNNING
    experiment.started_at = timezone.now()
    try:
        experiment.save(update_fields=["state", "started_at"])
    except IntegrityError as exc:  # a concurrent start won the partial unique constraint
        raise Conflict(
            f"Another experiment started for {prompt.full_name} in {experiment.environment.slug}.",
            code=ErrorCode.EXPERIMENT_RUNNING,
        ) from exc
    resolve_cache.invalidate_prompts([prompt])
    _audit(actor, "experiment.started", experiment, justification, **details)
    split = ", ".join(f"{a.label} v{a.version.number} {a.weight} %" for a in arms)
    _tell_team(
        experiment,
        events.EXPERIMENT_STARTED,
        f"Experiment #{experiment.pk} on {prompt.full_name} runs in {experiment.environment.slug}",
        f"Split: {split}.\nHypothesis: {experiment.hypothesis}",
    )
    return experiment


@atomic_write
def experiment_cancel(*, actor: Principal | None, experiment: Experiment, reason: str) -> None:
    """Pending → cancelled: its promotion request was rejected, withdrawn, superseded or
    expired (the approvals workflow calls this under its own locks)."""
    experiment = _lock_experiment(experiment)
    if experiment.state != Experiment.State.PENDING:
        return
    experiment.state = Experiment.State.CANCELLED
    experiment.stopped_at = timezone.now()
    experiment.stop_reason = reason
    experiment.save(update_fields=["state", "stopped_at", "stop_reason"])
    _audit(actor, "experiment.cancelled", experiment, reason)


def may_stop(actor: Principal, experiment: Experiment) -> bool:
    """Maintainers and owners of the team, and holders of the promotion right in the
    environment (the people who may roll it back), stop an experiment."""
    if permissions.can_request_promotion(actor, experiment.prompt.namespace):
        return True
    if not permissions.is_user(actor):
        return False
    answers = hooks.promotion_right(
        user=actor, namespace=experiment.prompt.namespace, environment=experiment.environment
    )
    return bool(answers) and all(answers)


STOP_EVENTS = {
    Experiment.StopCause.GUARDRAIL: events.EXPERIMENT_GUARDRAIL,
}


@atomic_write
def experiment_stop(
    *,
    actor: Principal | None,
    experiment: Experiment,
    cause: str,
    reason: str,
    winner: str | None = None,
) -> Experiment:
    """Running → stopped: every consumer gets the control again on its next resolve. `actor`
    None is the portal itself (a guardrail, a deployment change, a retirement). `winner` is
    an arm's label, recorded; deploying it is the caller's next step (the promotion path)."""
    _lock(experiment.prompt)
    experiment = _lock_experiment(experiment)
    if actor is not None:
        require(
            may_stop(actor, experiment),
            f"Only maintainers and owners of {experiment.prompt.namespace.team.slug}, or "
            f"holders of the promotion right in {experiment.environment.slug}, stop it.",
        )
    return _stop(actor, experiment, cause, reason, winner)


def _stop(
    actor: Principal | None, experiment: Experiment, cause: str, reason: str, winner: str | None
) -> Experiment:
    reason = (reason or "").strip()
    if actor is None:  # the portal's own reason (a guardrail's figures) never blocks a stop
        reason = fit(reason, settings.MAX_NOTE_BYTES)
    reason = check_note(reason, field="reason", what="The reason")
    if experiment.state != Experiment.State.RUNNING:
        raise Conflict(
            f"Experiment #{experiment.pk} is {experiment.state}, not running.",
            code=ErrorCode.EXPERIMENT_NOT_RUNNING,
        )
    arms = {arm.label: arm for arm in _arms_of(experiment)}
    if winner is not None and winner not in arms:
        raise Invalid.field("winner", f"The arms are {', '.join(arms)}.")
    experiment.state = Experiment.State.STOPPED
    experiment.stopped_at = timezone.now()
    experiment.stopped_by = actor if permissions.is_user(actor) else None
    experiment.stop_cause = cause
    experiment.stop_reason = reason
    experiment.winner = arms[winner] if winner else None
    experiment.save()
    resolve_cache.invalidate_prompts([experiment.prompt])
    _audit(actor, "experiment.stopped", experiment, reason, cause=cause, winner=winner)
    control = next(arm for arm in arms.values() if arm.is_control)
    by = "the portal" if actor is None else actor.get_username()
    lines = [f"Stopped by {by} ({cause}): {reason}" if reason else f"Stopped by {by} ({cause})."]
    lines.append(f"{experiment.environment.slug} serves the control, v{control.version.number}.")
    if winner:
        lines.append(f"Winner: arm {winner} (v{arms[winner].version.number}).")
    _tell_team(
        experiment,
        STOP_EVENTS.get(cause, events.EXPERIMENT_STOPPED),
        f"Experiment #{experiment.pk} on {experiment.prompt.full_name} stopped",
        "\n".join(lines),
    )
    return experiment


def fit(text: str, limit: int) -> str:
    """`text` cut to at most `limit` bytes of UTF-8 (on a character boundary), marked "…"."""
    if len(text.encode()) <= limit:
        return text
    return text.encode()[: limit - 3].decode(errors="ignore") + "…"


def stop_running(
    *, actor: Principal | None, prompt: Prompt, environment: Environment | None, cause: str
) -> list[Experiment]:
    """Inside a writer's transaction that holds the prompt's lock (and has checked the actor's
    rights to make its change): stop what runs for the prompt, in one environment or all,
    because what it split changed under it."""
    running = Experiment.objects.filter(prompt=prompt, state=Experiment.State.RUNNING)
    if environment is not None:
        running = running.filter(environment=environment)
    reasons = {
        Experiment.StopCause.DEPLOYMENT: "The environment now runs another version.",
        Experiment.StopCause.RETIRED: f"{prompt.full_name} was retired.",
    }
    return [
        _stop(actor, _lock_experiment(e), cause, reasons[cause], None)
        for e in running.order_by("pk")
    ]
