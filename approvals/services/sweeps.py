"""Work on pending requests that no reviewer triggers: expiry after
`PROMOTION_REQUEST_MAX_AGE_DAYS`, and re-evaluation after rights were gained. Each request in
its own transaction."""

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone

from approvals.models import PromotionRequest, Review
from approvals.selectors import count_approvals
from approvals.services.common import audit_request, close, notify
from approvals.services.promotions import complete, is_stale, locked_for_decision
from portal import outbox
from portal.errors import Conflict
from portal.transactions import atomic_write
from prompts.models import Prompt

logger = logging.getLogger(__name__)


@atomic_write
def promotion_reevaluate(*, request: PromotionRequest) -> PromotionRequest:
    """Apply a pending request whose approvals are complete now (a right was granted back, a
    reviewer rejoined their team or was reactivated). Safe to run twice."""
    request = locked_for_decision(request)
    if not request.is_open or is_stale(request) or request.prompt.state == Prompt.State.RETIRED:
        return request
    (request,) = count_approvals([request])
    if complete(request, None, reevaluated=True):
        notify(request, "applied")
    return request


@atomic_write
def _expire_one(request: PromotionRequest) -> bool:
    request = locked_for_decision(request)
    if not is_stale(request):
        return False
    close(request, request.mark_expired)
    audit_request(None, "promotion.expired", request)
    notify(request, "expired")
    return True


def expire_stale_requests() -> int:
    """Expire every pending request older than the configured age, each in its own
    transaction (so the sweep never holds the audit chain while it waits for the next
    prompt's lock). Safe to run twice."""
    cutoff = timezone.now() - dt.timedelta(days=settings.PROMOTION_REQUEST_MAX_AGE_DAYS)
    stale = PromotionRequest.objects.filter(
        state=PromotionRequest.State.PENDING, created_at__lte=cutoff
    ).order_by("pk")
    return sum(_expire_one(request) for request in stale.select_related("prompt"))


def reevaluate_pending(
    *, namespace_id: int | None = None, environment_id: int | None = None, user_ids=None
) -> int:
    """Re-evaluate the pending requests a change of rights may have completed: those in one
    namespace × environment, or those these users approved. Each in its own transaction."""
    pending = PromotionRequest.objects.filter(state=PromotionRequest.State.PENDING)
    if namespace_id is not None:
        pending = pending.filter(prompt__namespace_id=namespace_id)
    if environment_id is not None:
        pending = pending.filter(environment_id=environment_id)
    if user_ids is not None:
        pending = pending.filter(
            reviews__reviewer_id__in=user_ids, reviews__decision=Review.Decision.APPROVE
        )
    applied = 0
    for request in pending.select_related("prompt").distinct().order_by("pk"):
        try:
            reevaluated = promotion_reevaluate(request=request)
        except Conflict as exc:  # e.g. an experiment's control changed: decided by people
            logger.warning("request %s not re-evaluated: %s", request.pk, exc.detail)
            continue
        applied += reevaluated.state == PromotionRequest.State.APPLIED
    return applied


def access_gained(*, user_ids: list[int]) -> None:
    """Registered as the `teams.hooks.access_gained` hook (inside the change's transaction):
    approvals these people gave may count again, so re-evaluate their requests after commit."""
    outbox.enqueue("approvals.tasks.reevaluate_pending", None, None, list(user_ids))
