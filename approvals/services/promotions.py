"""The promotion workflow: request, approve, reject, cancel, supersede, expire, re-evaluate.

Every write locks the prompt's row first and checks the rules after, so requests, approvals,
applications and rollbacks of one prompt are serialized and decided on current data; the
deployment row and the request rows are locked after it, the audit chain last.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from approvals import permissions as rights
from approvals.models import PromotionRequest, Review
from approvals.selectors import count_approvals
from approvals.services.common import (
    audit_request,
    close,
    lock_prompt,
    lock_request,
    missing_earlier_environments,
    notify,
    optional_text,
    refuse_retired,
    require_text,
)
from approvals.services.gate import promotion_gate_refusal
from portal.errors import Conflict, DomainError, ErrorCode, Invalid, PermissionDenied
from portal.transactions import atomic_write
from prompts.experiments import experiment_start
from prompts.models import Deployment, Environment, Experiment, Prompt, PromptVersion
from prompts.services import deployment_set
from teams import permissions
from teams.permissions import Principal, require


def _apply(request: PromotionRequest, actor: Principal | None, **details) -> None:
    refuse_retired(request.prompt)
    refusal = promotion_gate_refusal(request)
    if refusal:
        raise refusal
    request.mark_applied()
    request.decided_at = request.decided_at or timezone.now()
    request.save()
    if request.kind == PromotionRequest.Kind.EXPERIMENT:
        experiment_start(
            actor=actor,
            experiment=request.experiment,
            justification=request.justification,
            request=request.pk,
            requested_by=request.requested_by.get_username(),
            **details,
        )
        return
    deployment_set(
        prompt=request.prompt,
        environment=request.environment,
        version=request.version,
        actor=actor,
        action="promotion.applied",
        justification=request.justification,
        details={
            "request": request.pk,
            "requested_by": request.requested_by.get_username(),
            **details,
        },
    )
    if request.then_environment_id is not None:
        _follow_on(request)


def _follow_on(request: PromotionRequest) -> None:
    """The request applied and its requester wanted the version further: the next step toward
    `then_environment` is requested in their name, with their justification, under the
    usual rules (their right is checked again). A refusal does not undo what applied: it is
    audited, and the requester asks again."""
    try:
        with transaction.atomic():
            promotion_toward(
                actor=request.requested_by,
                prompt=request.prompt,
                version=request.version,
                environment=request.then_environment,
                justification=request.justification,
            )
    except DomainError as error:
        audit_request(
            request.requested_by,
            "promotion.follow_on_refused",
            request,
            justification=error.detail,
            environment=request.then_environment.slug,
            code=str(error.code),
        )


def next_step(prompt: Prompt, version: PromptVersion, environment: Environment) -> Environment:
    """Where a request toward `environment` goes now: the first earlier environment needing
    approval that has not run the version yet (the order of environments), else itself."""
    missing = missing_earlier_environments(prompt, environment, version)
    return Environment.objects.get(slug=missing[0]) if missing else environment


def promotion_toward(
    *,
    actor: Principal,
    prompt: Prompt,
    version: PromptVersion,
    environment: Environment,
    justification: str,
) -> PromotionRequest:
    """Ask to run `version` in `environment`, through the environments it must pass first:
    the request is for the next step (`next_step`), and carries `environment` as where to go
    on, so each step, once approved, requests the next. Where no step is missing this is
    `promotion_request`."""
    step = next_step(prompt, version, environment)
    return promotion_request(
        actor=actor,
        prompt=prompt,
        version=version,
        environment=step,
        justification=justification,
        then_environment=environment if step != environment else None,
    )


@atomic_write
def promotion_request(
    *,
    actor: Principal,
    prompt: Prompt,
    version: PromptVersion,
    environment: Environment,
    justification: str,
    override: bool = False,
    then_environment: Environment | None = None,
) -> PromotionRequest:
    """Ask to run `version` in `environment`. Applies at once where no approval is needed;
    otherwise pending, superseding any older pending request for the same environment.
    `then_environment`: see `promotion_toward`."""
    justification = require_text(justification, "justification", "A justification")
    prompt = lock_prompt(prompt)
    require(
        permissions.can_request_promotion(actor, prompt.namespace),
        f"Only maintainers and owners of {prompt.namespace.team.slug} request promotions.",
    )
    refuse_retired(prompt)
    if version.prompt_id != prompt.pk:
        raise Invalid.field("version", f"{prompt.full_name} has no such version.")
    if override:
        require(permissions.is_staff(actor), "Only staff override the order of environments.")
    environment = Environment.objects.get(pk=environment.pk)  # its rules as they are now
    current = (
        Deployment.objects.select_for_update()
        .select_related("version")
        .filter(prompt=prompt, environment=environment)
        .first()
    )
    if current and current.version_id == version.pk:
        raise Conflict(
            f"{environment.slug} already runs version {version.number}.",
            code=ErrorCode.ALREADY_DEPLOYED,
        )
    missing = missing_earlier_environments(prompt, environment, version)
    if missing and not override:
        raise Conflict(
            f"Version {version.number} must run in {', '.join(missing)} before {environment.slug}.",
            code=ErrorCode.ENVIRONMENT_ORDER,
        )
    request = open_request(
        actor=actor,
        prompt=prompt,
        environment=environment,
        version=version,
        previous_version=current.version if current else None,
        justification=justification,
        override=bool(override and missing),
        skipped=missing if override else [],
        then_environment=then_environment,
    )
    if request.required_approvals == 0:
        _apply(request, actor)
    notify(request, "requested" if request.is_open else "applied")
    return request


def open_request(
    *,
    actor: Principal,
    prompt: Prompt,
    environment: Environment,
    version: PromptVersion,
    previous_version: PromptVersion | None,
    justification: str,
    override: bool = False,
    skipped: list[str] | None = None,
    experiment: Experiment | None = None,
    then_environment: Environment | None = None,
) -> PromotionRequest:
    """A new pending request (the prompt and its deployment locked by the caller): older
    pending requests for the same environment are superseded by it."""
    older = list(
        PromotionRequest.objects.select_for_update(of=("self",))
        .select_related("prompt__namespace", "version", "environment", "experiment")
        .filter(prompt=prompt, environment=environment, state=PromotionRequest.State.PENDING)
        .order_by("pk")
    )
    for stale in older:
        close(stale, stale.mark_superseded, actor)
    kind = PromotionRequest.Kind.EXPERIMENT if experiment else PromotionRequest.Kind.PROMOTION
    request = PromotionRequest.objects.create(
        kind=kind,
        experiment=experiment,
        prompt=prompt,
        version=version,
        environment=environment,
        previous_version=previous_version,
        requested_by=actor,
        justification=justification,
        required_approvals=environment.min_approvals if environment.requires_approval else 0,
        override=override,
        then_environment=then_environment,
    )
    for stale in older:
        stale.superseded_by = request
        stale.save(update_fields=["superseded_by"])
        audit_request(actor, "promotion.superseded", stale, superseded_by=request.pk)
        notify(stale, "superseded")
    audit_request(
        actor,
        "promotion.override" if request.override else "promotion.requested",
        request,
        justification=justification,
        before={"version": previous_version.number if previous_version else None},
        skipped_environments=skipped or [],
        **({"experiment": experiment.pk} if experiment else {}),
        **({"then_environment": then_environment.slug} if then_environment else {}),
    )
    return request


def is_stale(request: PromotionRequest) -> bool:
    max_age = dt.timedelta(days=settings.PROMOTION_REQUEST_MAX_AGE_DAYS)
    return request.is_open and request.created_at <= timezone.now() - max_age


def _require_open(request: PromotionRequest) -> None:
    if is_stale(request):
        raise Conflict(
            f"Request #{request.pk} is older than {settings.PROMOTION_REQUEST_MAX_AGE_DAYS} days "
            "and has expired; request the promotion again.",
            code=ErrorCode.REQUEST_EXPIRED,
        )
    if not request.is_open:
        raise Conflict(
            f"Request #{request.pk} is {request.state}; it can no longer be decided.",
            code=ErrorCode(f"request_{request.state}"),
        )


def four_eyes_refusal(request: PromotionRequest, reviewer: Principal) -> str | None:
    """Why `reviewer` may not approve their own change, or None. For an experiment, the
    change is every version it would serve besides the control."""
    if reviewer.pk == request.requested_by_id:
        return "You requested this promotion; someone else must approve it (four-eyes rule)."
    for version in request.changed_versions():
        if reviewer.pk == version.author_id:
            return (
                f"You authored version {version.number}; someone else must approve it "
                "(four-eyes rule)."
            )
    return None


def can_decide(request: PromotionRequest, reviewer: Principal) -> bool:
    return (
        permissions.is_user(reviewer)
        and request.is_open
        and not is_stale(request)
        and four_eyes_refusal(request, reviewer) is None
        and rights.holds_promotion_right(reviewer, request.prompt.namespace, request.environment)
    )


def locked_for_decision(request: PromotionRequest) -> PromotionRequest:
    """The prompt, the deployment the request may move, the request: in that order, before
    anything is checked or audited (the audit chain head comes last)."""
    lock_prompt(request.prompt)
    list(
        Deployment.objects.select_for_update(of=("self",)).filter(
            prompt_id=request.prompt_id, environment_id=request.environment_id
        )
    )
    return lock_request(request)


def _require_right(reviewer: Principal, request: PromotionRequest) -> None:
    require(
        rights.holds_promotion_right(reviewer, request.prompt.namespace, request.environment),
        f"You do not hold the promotion right for {request.prompt.namespace.slug} in "
        f"{request.environment.slug}.",
    )


def complete(request: PromotionRequest, actor: Principal | None, **details) -> bool:
    """Apply the request when its approvals, counted by `count_approvals` (the count the API
    and the portal show), reach what it requires and the evaluation gate lets it in (else it
    stays pending: the gate's `run_finished` hook re-evaluates it). Returns whether it was
    applied."""
    if request.approvals < request.required_approvals or promotion_gate_refusal(request):
        return False
    request.mark_approved()
    request.decided_at = timezone.now()
    _apply(request, actor, **details)
    return True


@atomic_write
def promotion_approve(
    *, actor: Principal, request: PromotionRequest, comment: str = ""
) -> PromotionRequest:
    """Record an approval; the one that completes the count applies the deployment in this
    transaction. Approving again (after a right was restored, say) counts once and
    re-evaluates the request."""
    require(permissions.is_user(actor), "Only people approve promotions.")
    comment = optional_text(comment, "comment", "The comment")
    request = locked_for_decision(request)
    _require_open(request)
    refusal = four_eyes_refusal(request, actor)
    if refusal:
        raise PermissionDenied(refusal, code=ErrorCode.FOUR_EYES)
    _require_right(actor, request)
    _, created = Review.objects.get_or_create(
        request=request,
        reviewer=actor,
        defaults={"decision": Review.Decision.APPROVE, "comment": comment},
    )
    (request,) = count_approvals([request])
    audit_request(
        actor,
        "promotion.approved",
        request,
        justification=comment or "",
        approvals=request.approvals,
        required=request.required_approvals,
        again=not created,
    )
    if complete(request, actor):
        notify(request, "applied")
    elif created:
        notify(request, "approved")
    return request


@atomic_write
def promotion_reject(
    *, actor: Principal, request: PromotionRequest, comment: str
) -> PromotionRequest:
    """Any holder of the promotion right ends the request, with a reason."""
    require(permissions.is_user(actor), "Only people reject promotions.")
    comment = require_text(comment, "comment", "A reason for the rejection")
    request = locked_for_decision(request)
    _require_open(request)
    _require_right(actor, request)
    Review.objects.update_or_create(
        request=request,
        reviewer=actor,
        defaults={"decision": Review.Decision.REJECT, "comment": comment},
    )
    close(request, request.mark_rejected, actor)
    audit_request(actor, "promotion.rejected", request, justification=comment)
    notify(request, "rejected")
    return request


def may_cancel(request: PromotionRequest, actor: Principal) -> bool:
    """The requester, the namespace's owners and staff withdraw a request."""
    return permissions.is_user(actor) and (
        actor.pk == request.requested_by_id
        or permissions.can_manage_namespace(actor, request.prompt.namespace)
    )


@atomic_write
def promotion_cancel(
    *, actor: Principal, request: PromotionRequest, comment: str = ""
) -> PromotionRequest:
    """The requester (or staff, or the namespace's owners) withdraws a pending request."""
    comment = optional_text(comment, "comment", "The comment")
    request = locked_for_decision(request)
    require(
        may_cancel(request, actor),
        "Only the requester, the namespace's owners or staff cancel a request.",
    )
    _require_open(request)
    close(request, request.mark_cancelled, actor)
    audit_request(actor, "promotion.cancelled", request, justification=comment)
    notify(request, "cancelled")
    return request
