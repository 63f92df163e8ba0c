"""The promotion workflow: request, approve, reject, cancel, supersede, expire.

Every write locks the prompt's row first, so requests, approvals, applications and rollbacks of
one prompt are serialized; the deployment row and the request row are locked after it.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from approvals.audit import audit
from approvals.models import PromotionRequest, Review
from approvals.tasks import notify_promotion_event
from portal.errors import Conflict, Invalid, PermissionDenied
from prompts.models import Deployment, Environment, Prompt, PromptVersion
from prompts.services import deployment_set
from teams import permissions
from teams.permissions import Principal, require


def _lock_prompt(prompt: Prompt) -> Prompt:
    return Prompt.objects.select_for_update().select_related("namespace").get(pk=prompt.pk)


def _lock_request(request: PromotionRequest) -> PromotionRequest:
    return (
        PromotionRequest.objects.select_for_update()
        .select_related("prompt__namespace", "version__author", "environment", "requested_by")
        .get(pk=request.pk)
    )


def _require_text(value: str, field: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise Invalid.field(field, f"{what} is required.")
    return value


def _request_summary(request: PromotionRequest) -> dict:
    return {
        "request": request.pk,
        "prompt": request.prompt.full_name,
        "version": request.version.number,
        "environment": request.environment.slug,
        "state": request.state,
    }


def _audit_request(
    actor: Principal | None,
    action: str,
    request: PromotionRequest,
    *,
    justification: str = "",
    before: dict | None = None,
    **after,
) -> None:
    audit(
        actor=actor,
        action=action,
        object_type="promotion_request",
        object_id=request.pk,
        namespace=request.prompt.namespace.slug,
        justification=justification,
        before=before,
        after={**_request_summary(request), **after},
    )


def _close(request: PromotionRequest, transition) -> None:
    """Move a pending request to a final state now."""
    transition()
    request.decided_at = timezone.now()
    request.save()


def _notify(request: PromotionRequest, event: str) -> None:
    request_id = request.pk
    transaction.on_commit(lambda: notify_promotion_event.delay(request_id, event), robust=True)


def was_deployed(*, prompt: Prompt, environment: Environment, version: PromptVersion) -> bool:
    """Whether the environment runs or ever ran this version (deployment history)."""
    return Deployment.history.filter(
        prompt_id=prompt.pk, environment_id=environment.pk, version_id=version.pk
    ).exists()


def _missing_earlier_environments(prompt: Prompt, environment: Environment, version) -> list[str]:
    earlier = Environment.objects.filter(order__lt=environment.order, requires_approval=True)
    return [
        env.slug
        for env in earlier.order_by("order")
        if not was_deployed(prompt=prompt, environment=env, version=version)
    ]


def _apply(request: PromotionRequest, actor: Principal) -> None:
    if request.prompt.state == Prompt.State.RETIRED:
        raise Conflict(f"{request.prompt.full_name} is retired.", code="retired")
    request.mark_applied()
    request.decided_at = request.decided_at or timezone.now()
    request.save()
    deployment_set(
        prompt=request.prompt,
        environment=request.environment,
        version=request.version,
        actor=actor,
        action="promotion.applied",
        justification=request.justification,
        details={"request": request.pk, "requested_by": request.requested_by.get_username()},
    )


@transaction.atomic
def promotion_request(
    *,
    actor: Principal,
    prompt: Prompt,
    version: PromptVersion,
    environment: Environment,
    justification: str,
    override: bool = False,
) -> PromotionRequest:
    """Ask to run `version` in `environment`. Applies at once where no approval is needed;
    otherwise pending, superseding any older pending request for the same environment."""
    require(
        permissions.can_request_promotion(actor, prompt.namespace),
        f"Only maintainers and owners of {prompt.namespace.team.slug} request promotions.",
    )
    justification = _require_text(justification, "justification", "A justification")
    prompt = _lock_prompt(prompt)
    if prompt.state == Prompt.State.RETIRED:
        raise Conflict(f"{prompt.full_name} is retired.", code="retired")
    if version.prompt_id != prompt.pk:
        raise Invalid.field("version", f"{prompt.full_name} has no such version.")
    current = (
        Deployment.objects.select_for_update()
        .select_related("version")
        .filter(prompt=prompt, environment=environment)
        .first()
    )
    if current and current.version_id == version.pk:
        raise Conflict(
            f"{environment.slug} already runs version {version.number}.", code="already_deployed"
        )
    missing = _missing_earlier_environments(prompt, environment, version)
    if missing and not override:
        raise Conflict(
            f"Version {version.number} must run in {', '.join(missing)} before {environment.slug}.",
            code="environment_order",
        )
    if override:
        require(permissions.is_staff(actor), "Only staff override the order of environments.")
    older = list(
        PromotionRequest.objects.select_for_update()
        .select_related("prompt__namespace", "version", "environment")
        .filter(prompt=prompt, environment=environment, state=PromotionRequest.State.PENDING)
    )
    for stale in older:
        _close(stale, stale.mark_superseded)
    request = PromotionRequest.objects.create(
        prompt=prompt,
        version=version,
        environment=environment,
        previous_version=current.version if current else None,
        requested_by=actor,
        justification=justification,
        required_approvals=environment.min_approvals if environment.requires_approval else 0,
        override=bool(override and missing),
    )
    for stale in older:
        _record_superseded(stale, by=request, actor=actor)
    _audit_request(
        actor,
        "promotion.override" if request.override else "promotion.requested",
        request,
        justification=justification,
        before={"version": request.previous_version.number if request.previous_version else None},
        skipped_environments=missing if override else [],
    )
    if request.required_approvals == 0:
        _apply(request, actor)
    _notify(request, "requested" if request.is_open else "applied")
    return request


def _record_superseded(older: PromotionRequest, *, by: PromotionRequest, actor: Principal) -> None:
    older.superseded_by = by
    older.save(update_fields=["superseded_by"])
    _audit_request(actor, "promotion.superseded", older, superseded_by=by.pk)
    _notify(older, "superseded")


def _is_stale(request: PromotionRequest) -> bool:
    max_age = dt.timedelta(days=settings.PROMOTION_REQUEST_MAX_AGE_DAYS)
    return request.is_open and request.created_at <= timezone.now() - max_age


def _expire(request: PromotionRequest) -> None:
    _close(request, request.mark_expired)
    _audit_request(None, "promotion.expired", request)
    _notify(request, "expired")


def _require_open(request: PromotionRequest) -> None:
    if _is_stale(request):
        raise Conflict(
            f"Request #{request.pk} is older than {settings.PROMOTION_REQUEST_MAX_AGE_DAYS} days "
            "and has expired; request the promotion again.",
            code="request_expired",
        )
    if not request.is_open:
        raise Conflict(
            f"Request #{request.pk} is {request.state}; it can no longer be decided.",
            code=f"request_{request.state}",
        )


def four_eyes_refusal(request: PromotionRequest, reviewer: Principal) -> str | None:
    """Why `reviewer` may not approve their own change, or None."""
    if reviewer.pk == request.requested_by_id:
        return "You requested this promotion; someone else must approve it (four-eyes rule)."
    if reviewer.pk == request.version.author_id:
        return (
            f"You authored version {request.version.number}; someone else must approve it "
            "(four-eyes rule)."
        )
    return None


def can_decide(request: PromotionRequest, reviewer: Principal) -> bool:
    return (
        permissions.is_user(reviewer)
        and request.is_open
        and not _is_stale(request)
        and four_eyes_refusal(request, reviewer) is None
        and permissions.holds_promotion_right(
            reviewer, request.prompt.namespace, request.environment
        )
    )


def _locked_for_decision(request: PromotionRequest) -> PromotionRequest:
    _lock_prompt(request.prompt)
    return _lock_request(request)


def _require_right(reviewer: Principal, request: PromotionRequest) -> None:
    require(
        permissions.holds_promotion_right(reviewer, request.prompt.namespace, request.environment),
        f"You do not hold the promotion right for {request.prompt.namespace.slug} in "
        f"{request.environment.slug}.",
    )


@transaction.atomic
def promotion_approve(
    *, actor: Principal, request: PromotionRequest, comment: str = ""
) -> PromotionRequest:
    """Record an approval; the last required one applies the deployment in this transaction.
    A second approval by the same reviewer counts once."""
    require(permissions.is_user(actor), "Only people approve promotions.")
    request = _locked_for_decision(request)
    _require_open(request)
    refusal = four_eyes_refusal(request, actor)
    if refusal:
        raise PermissionDenied(refusal, code="four_eyes")
    _require_right(actor, request)
    if request.reviews.filter(reviewer=actor, decision=Review.Decision.APPROVE).exists():
        return request
    Review.objects.create(
        request=request, reviewer=actor, decision=Review.Decision.APPROVE, comment=comment or ""
    )
    approvals = _valid_approvals(request)
    _audit_request(
        actor,
        "promotion.approved",
        request,
        justification=comment or "",
        approvals=approvals,
        required=request.required_approvals,
    )
    if approvals >= request.required_approvals:
        request.mark_approved()
        request.decided_at = timezone.now()
        _apply(request, actor)
        _notify(request, "applied")
    else:
        _notify(request, "approved")
    return request


def _valid_approvals(request: PromotionRequest) -> int:
    """Approvals by people who still hold the right (a revoked right withdraws the approval)."""
    reviews = request.reviews.filter(decision=Review.Decision.APPROVE).select_related("reviewer")
    return sum(
        1
        for review in reviews
        if review.reviewer.is_active
        and four_eyes_refusal(request, review.reviewer) is None
        and permissions.holds_promotion_right(
            review.reviewer, request.prompt.namespace, request.environment
        )
    )


@transaction.atomic
def promotion_reject(
    *, actor: Principal, request: PromotionRequest, comment: str
) -> PromotionRequest:
    """Any holder of the promotion right ends the request, with a reason."""
    require(permissions.is_user(actor), "Only people reject promotions.")
    comment = _require_text(comment, "comment", "A reason for the rejection")
    request = _locked_for_decision(request)
    _require_open(request)
    _require_right(actor, request)
    Review.objects.update_or_create(
        request=request,
        reviewer=actor,
        defaults={"decision": Review.Decision.REJECT, "comment": comment},
    )
    _close(request, request.mark_rejected)
    _audit_request(actor, "promotion.rejected", request, justification=comment)
    _notify(request, "rejected")
    return request


def may_cancel(request: PromotionRequest, actor: Principal) -> bool:
    """The requester, the namespace's owners and staff withdraw a request."""
    return permissions.is_user(actor) and (
        actor.pk == request.requested_by_id
        or permissions.can_manage_namespace(actor, request.prompt.namespace)
    )


@transaction.atomic
def promotion_cancel(
    *, actor: Principal, request: PromotionRequest, comment: str = ""
) -> PromotionRequest:
    """The requester (or staff, or the namespace's owners) withdraws a pending request."""
    request = _locked_for_decision(request)
    require(
        may_cancel(request, actor),
        "Only the requester, the namespace's owners or staff cancel a request.",
    )
    _require_open(request)
    _close(request, request.mark_cancelled)
    _audit_request(actor, "promotion.cancelled", request, justification=comment or "")
    _notify(request, "cancelled")
    return request


@transaction.atomic
def expire_stale_requests() -> int:
    """Expire every pending request older than the configured age. Safe to run twice."""
    cutoff = timezone.now() - dt.timedelta(days=settings.PROMOTION_REQUEST_MAX_AGE_DAYS)
    stale = PromotionRequest.objects.filter(
        state=PromotionRequest.State.PENDING, created_at__lte=cutoff
    ).select_related("prompt")
    expired = 0
    for request in stale:
        request = _locked_for_decision(request)
        if _is_stale(request):
            _expire(request)
            expired += 1
    return expired
