"""Pending promotion requests in the daily stale digest (prompts.stale): a request still
waiting for a decision after `PROMOTION_REQUEST_REMIND_DAYS` days (default 3) is listed for
the owning team, with who asked and how long ago, until it is decided or expires
(`PROMOTION_REQUEST_MAX_AGE_DAYS`). One query."""

import datetime as dt

from django.conf import settings

from approvals.models import PromotionRequest
from prompts import stale


def remind_after_days() -> int:
    return settings.PROMOTION_REQUEST_REMIND_DAYS


def pending_request_findings(*, now: dt.datetime) -> list[stale.Finding]:
    cutoff = now - dt.timedelta(days=remind_after_days())
    waiting = (
        PromotionRequest.objects.filter(
            state=PromotionRequest.State.PENDING, created_at__lte=cutoff
        )
        .select_related("prompt__namespace", "version", "environment", "requested_by")
        .order_by("created_at")
    )
    findings = []
    for request in waiting:
        days = (now - request.created_at).days
        findings.append(
            stale.Finding(
                team_id=request.prompt.namespace.team_id,
                kind=stale.PENDING_REQUEST,
                subject=request.prompt.full_name,
                line=(
                    f"request #{request.pk}: {request.prompt.full_name} "
                    f"v{request.version.number} to {request.environment.name}, asked by "
                    f"{request.requested_by.get_username()} {days} day{'s' * (days != 1)} ago"
                ),
                identity=(request.pk,),
                data={"request": request.pk, "requested_by": request.requested_by.get_username()},
            )
        )
    return findings
