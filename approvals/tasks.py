"""Celery tasks of the approvals app. Each calls services and is safe to run twice. Services
queue them through `portal.outbox`, by name."""

import logging

from celery import shared_task
from django.urls import reverse

from approvals import services
from approvals.models import PromotionRequest
from approvals.selectors import eligible_reviewers, promotion_event_recipients
from prompts.models import Deployment
from teams.notifications import events
from teams.notifications.selectors import notification_sent
from teams.notifications.services import notify

logger = logging.getLogger(__name__)


EVENTS = {
    "requested": events.PROMOTION_REQUESTED,
    "approved": events.PROMOTION_APPROVED,
    "rejected": events.PROMOTION_REJECTED,
    "applied": events.PROMOTION_APPLIED,
    "expired": events.PROMOTION_EXPIRED,
    "cancelled": events.PROMOTION_CANCELLED,
    "superseded": events.PROMOTION_SUPERSEDED,
}
VERBS = {
    "requested": "waits for review",
    "approved": "was approved",
    "rejected": "was rejected",
    "applied": "is applied",
    "expired": "expired",
    "cancelled": "was cancelled",
    "superseded": "was superseded",
}


@shared_task(ignore_result=True)
def notify_promotion_event(request_id: int, event: str) -> None:
    """Tell the people a promotion event concerns, through `teams.notifications.notify`: a new
    request goes to the reviewers who may decide it, a decided, applied, expired, cancelled or
    superseded one to its requester; the owning team (its owners, maintainers and webhooks)
    hears of every one. Run twice, it tells them once (an approval short of the last one is
    told each time: several arrive for one request)."""
    request = (
        PromotionRequest.objects.select_related(
            "prompt__namespace__team", "version", "environment", "requested_by"
        )
        .filter(pk=request_id)
        .first()
    )
    recipients = promotion_event_recipients(request_id=request_id, event=event)
    logger.info(
        "promotion request %s %s: notify %s", request_id, event, ", ".join(recipients) or "nobody"
    )
    if request is None or event not in EVENTS:
        return
    if event != "approved" and notification_sent(event=EVENTS[event], request_id=request.pk):
        return
    users = eligible_reviewers(request=request) if event == "requested" else [request.requested_by]
    what = f"{request.prompt.full_name} v{request.version.number} to {request.environment.slug}"
    subject = f"Promotion of {what} {VERBS[event]}"
    if request.kind == PromotionRequest.Kind.EXPERIMENT:
        split = " / ".join(
            f"{arm.label} v{arm.version.number} {arm.weight} %"
            for arm in request.experiment.arms.select_related("version")
        )
        where = f"{request.prompt.full_name} in {request.environment.slug}"
        subject = f"Experiment on {where} ({split}) {VERBS[event]}"
    notify(
        event=EVENTS[event],
        subject=subject,
        body=(f"Requested by {request.requested_by.get_username()}: {request.justification}"),
        team=request.prompt.namespace.team,
        users=users,
        url=reverse("approvals:request", args=[request.pk]),
        data={
            "request": request.pk,
            "prompt": request.prompt.full_name,
            "version": request.version.number,
            "environment": request.environment.slug,
            "state": request.state,
            "kind": request.kind,
        },
    )


@shared_task(ignore_result=True)
def notify_rollback(deployment_id: int, from_version: int | None, justification: str) -> None:
    """Tell the owning team that an environment was rolled back."""
    deployment = (
        Deployment.objects.select_related(
            "prompt__namespace__team", "environment", "version", "deployed_by"
        )
        .filter(pk=deployment_id)
        .first()
    )
    if deployment is None:
        return
    prompt = deployment.prompt
    by = deployment.deployed_by.get_username() if deployment.deployed_by else "someone"
    notify(
        event=events.ROLLBACK,
        subject=(
            f"{prompt.full_name} in {deployment.environment.slug} rolled back to "
            f"v{deployment.version.number}"
        ),
        body=f"Rolled back by {by} from v{from_version}: {justification}",
        team=prompt.namespace.team,
        url=reverse("approvals:deployments", args=[prompt.namespace.slug, prompt.name]),
        data={
            "prompt": prompt.full_name,
            "environment": deployment.environment.slug,
            "version": deployment.version.number,
            "from_version": from_version,
        },
    )


@shared_task(ignore_result=True)
def expire_stale_requests() -> int:
    return services.expire_stale_requests()


@shared_task(ignore_result=True)
def reevaluate_pending(
    namespace_id: int | None = None,
    environment_id: int | None = None,
    user_ids: list[int] | None = None,
) -> int:
    """After rights were gained (a grant, a rejoined team, a reactivation): apply the pending
    requests whose approvals are complete now."""
    return services.reevaluate_pending(
        namespace_id=namespace_id, environment_id=environment_id, user_ids=user_ids
    )
