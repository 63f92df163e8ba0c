from django.urls import path

from approvals import views
from portal import converters  # noqa: F401 - registers <token:> and <username:>

app_name = "approvals"

PROMPT = "prompts/<slug:namespace>/<slug:name>"

urlpatterns = [
    path("reviews/", views.inbox, name="inbox"),
    path("reviews/count/", views.inbox_count, name="inbox_count"),
    path("promotions/<int:pk>/", views.promotion_detail, name="request"),
    path(
        "promotions/<int:pk>/approve/",
        views.promotion_decide,
        {"decision": "approve"},
        name="approve",
    ),
    path(
        "promotions/<int:pk>/reject/", views.promotion_decide, {"decision": "reject"}, name="reject"
    ),
    path(
        "promotions/<int:pk>/cancel/", views.promotion_decide, {"decision": "cancel"}, name="cancel"
    ),
    path(f"{PROMPT}/promote/", views.promotion_create, name="promote"),
    path(f"{PROMPT}/experiments/new/", views.experiment_create, name="experiment_create"),
    path("experiments/<int:pk>/", views.experiment_detail, name="experiment"),
    path(f"{PROMPT}/deployments/", views.deployment_history, name="deployments"),
    path(f"{PROMPT}/deployments/rollback/", views.rollback, name="rollback"),
    path("namespaces/<slug:namespace>/", views.namespace_detail, name="namespace"),
    path("namespaces/<slug:namespace>/edit/", views.namespace_update, name="namespace_update"),
    path("namespaces/<slug:namespace>/promotion-rights/", views.right_grant, name="right_grant"),
    path(
        "namespaces/<slug:namespace>/promotion-rights/revoke/",
        views.right_revoke,
        name="right_revoke",
    ),
    path(
        "namespaces/<slug:namespace>/service-tokens/",
        views.service_token_create,
        name="service_token_create",
    ),
    path(
        "namespaces/<slug:namespace>/service-tokens/<token:prefix>/revoke/",
        views.service_token_revoke,
        name="service_token_revoke",
    ),
]
