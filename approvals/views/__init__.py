"""Portal pages of the approvals app."""

from approvals.views.experiments import experiment_create, experiment_detail
from approvals.views.history import deployment_history, rollback
from approvals.views.namespaces import (
    namespace_detail,
    namespace_update,
    right_grant,
    right_revoke,
    service_token_create,
    service_token_revoke,
)
from approvals.views.promotions import (
    inbox,
    inbox_count,
    promotion_create,
    promotion_decide,
    promotion_detail,
)

__all__ = [
    "deployment_history",
    "experiment_create",
    "experiment_detail",
    "inbox",
    "inbox_count",
    "namespace_detail",
    "namespace_update",
    "promotion_create",
    "promotion_decide",
    "promotion_detail",
    "right_grant",
    "right_revoke",
    "rollback",
    "service_token_create",
    "service_token_revoke",
]
