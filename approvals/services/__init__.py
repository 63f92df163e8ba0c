"""Writes of the approvals app: the promotion workflow and rollback."""

from approvals.services.promotions import (
    can_decide,
    expire_stale_requests,
    four_eyes_refusal,
    may_cancel,
    promotion_approve,
    promotion_cancel,
    promotion_reject,
    promotion_request,
    was_deployed,
)
from approvals.services.rollback import previous_versions, rollback

__all__ = [
    "can_decide",
    "expire_stale_requests",
    "four_eyes_refusal",
    "may_cancel",
    "previous_versions",
    "promotion_approve",
    "promotion_cancel",
    "promotion_reject",
    "promotion_request",
    "rollback",
    "was_deployed",
]
