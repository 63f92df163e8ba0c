"""What the promotion workflow's services share: the first locks, text checks, the audit
entry of a request, closing a request (and cancelling its experiment), queued notifications."""

from django.utils import timezone

from approvals.models import PromotionRequest
from portal import outbox
from portal.audit.services import audit
from portal.errors import Conflict, ErrorCode, Invalid
from portal.validation import check_note
from prompts.experiments import experiment_cancel
from prompts.models import Deployment, Environment, Prompt, PromptVersion
from teams.permissions import Principal


def lock_prompt(prompt: Prompt) -> Prompt:
    """The first lock of every promotion and rollback of a prompt."""
    return (
        Prompt.objects.select_for_update(of=("self",))
        .select_related("namespace__team")
        .get(pk=prompt.pk)
    )


def lock_request(request: PromotionRequest) -> PromotionRequest:
    return (
        PromotionRequest.objects.select_for_update(of=("self",))
        .select_related(
            "prompt__namespace", "version__author", "environment", "requested_by", "experiment"
        )
        .get(pk=request.pk)
    )


def require_text(value: str, field: str, what: str) -> str:
    value = optional_text(value, field, what)
    if not value:
        raise Invalid.field(field, f"{what} is required.")
    return value


def optional_text(value: str | None, field: str, what: str) -> str:
    if value is not None and not isinstance(value, str):
        raise Invalid.field(field, f"{what} must be text.")
    return check_note((value or "").strip(), field=field, what=what)


def refuse_retired(prompt: Prompt) -> None:
    if prompt.state == Prompt.State.RETIRED:
        raise Conflict(f"{prompt.full_name} is retired.", code=ErrorCode.RETIRED)


def _request_summary(request: PromotionRequest) -> dict:
    return {
        "request": request.pk,
        "prompt": request.prompt.full_name,
        "version": request.version.number,
        "environment": request.environment.slug,
        "state": request.state,
    }


def audit_request(
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


def close(request: PromotionRequest, transition, actor: Principal | None = None) -> None:
    """Move a pending request to a final state now (its experiment, if any, is cancelled)."""
    transition()
    request.decided_at = timezone.now()
    request.save()
    if request.experiment_id:
        experiment_cancel(
            actor=actor,
            experiment=request.experiment,
            reason=f"Its request #{request.pk} was {request.state}.",
        )


def notify(request: PromotionRequest, event: str) -> None:
    outbox.enqueue("approvals.tasks.notify_promotion_event", request.pk, event)


def was_deployed(*, prompt: Prompt, environment: Environment, version: PromptVersion) -> bool:
    """Whether the environment runs or ever ran this version (deployment history)."""
    return Deployment.history.filter(
        prompt_id=prompt.pk, environment_id=environment.pk, version_id=version.pk
    ).exists()


def missing_earlier_environments(prompt: Prompt, environment: Environment, version) -> list[str]:
    earlier = Environment.objects.filter(order__lt=environment.order, requires_approval=True)
    return [
        env.slug
        for env in earlier.order_by("order")
        if not was_deployed(prompt=prompt, environment=env, version=version)
    ]


def cancel_experiment_requests(
    *, actor: Principal, prompt: Prompt, environment: Environment, reason: str
) -> None:
    """The environment's version changed under pending experiment requests (a rollback: no
    request supersedes them): their control is gone, so they end, and their experiments."""
    pending = (
        PromotionRequest.objects.select_for_update(of=("self",))
        .select_related("prompt__namespace", "version", "environment", "experiment")
        .filter(
            prompt=prompt,
            environment=environment,
            state=PromotionRequest.State.PENDING,
            kind=PromotionRequest.Kind.EXPERIMENT,
        )
        .order_by("pk")
    )
    for request in pending:
        close(request, request.mark_cancelled, actor)
        audit_request(actor, "promotion.cancelled", request, justification=reason)
        notify(request, "cancelled")
