from django.urls import path

from approvals import views

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
    path(f"{PROMPT}/deployments/", views.deployment_history, name="deployments"),
    path(f"{PROMPT}/deployments/rollback/", views.rollback, name="rollback"),
    path("audit/", views.audit_log, name="audit"),
    path("audit/verify/", views.audit_verify, name="audit_verify"),
]
