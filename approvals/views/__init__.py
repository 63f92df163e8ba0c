"""Portal pages of the approvals app."""

from approvals.views.audit import audit_log, audit_verify
from approvals.views.history import deployment_history, rollback
from approvals.views.promotions import (
    inbox,
    inbox_count,
    promotion_create,
    promotion_decide,
    promotion_detail,
)

__all__ = [
    "audit_log",
    "audit_verify",
    "deployment_history",
    "inbox",
    "inbox_count",
    "promotion_create",
    "promotion_decide",
    "promotion_detail",
    "rollback",
]
