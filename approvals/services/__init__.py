"""Writes of the approvals app: the promotion workflow, rollback and promotion rights."""

from approvals.services.common import was_deployed
from approvals.services.promotions import (
    can_decide,
    four_eyes_refusal,
    is_stale,
    may_cancel,
    promotion_approve,
    promotion_cancel,
    promotion_reject,
    promotion_request,
    promotion_toward,
)
from approvals.services.rights import promotion_right_grant, promotion_right_revoke
from approvals.services.rollback import previous_versions, rollback
from approvals.services.sweeps import (
    expire_stale_requests,
    promotion_reevaluate,
    reevaluate_pending,
)

__all__ = [
    "can_decide",
    "expire_stale_requests",
    "four_eyes_refusal",
    "is_stale",
    "may_cancel",
    "previous_versions",
    "promotion_approve",
    "promotion_cancel",
    "promotion_reevaluate",
    "promotion_reject",
    "promotion_request",
    "promotion_right_grant",
    "promotion_right_revoke",
    "promotion_toward",
    "reevaluate_pending",
    "rollback",
    "was_deployed",
]
