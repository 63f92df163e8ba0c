from django.urls import path

from approvals import api, experiments_api, sync_api

PROMPT = "prompts/<slug:namespace>/<slug:name>/"

urlpatterns = [
    path(
        "namespaces/<slug:namespace>/promotion-rights/",
        api.PromotionRights.as_view(),
        name="api-promotion-rights",
    ),
    path(f"{PROMPT}rollback/", api.Rollback.as_view(), name="api-rollback"),
    path(f"{PROMPT}deployments/", api.DeploymentHistory.as_view(), name="api-deployment-history"),
    path("promotions/", api.PromotionListCreate.as_view(), name="api-promotions"),
    path("promotions/<int:pk>/", api.PromotionDetail.as_view(), name="api-promotion"),
    path(
        "promotions/<int:pk>/approve/",
        api.PromotionApprove.as_view(),
        name="api-promotion-approve",
    ),
    path("promotions/<int:pk>/reject/", api.PromotionReject.as_view(), name="api-promotion-reject"),
    path("promotions/<int:pk>/cancel/", api.PromotionCancel.as_view(), name="api-promotion-cancel"),
    path("experiments/", experiments_api.ExperimentListCreate.as_view(), name="api-experiments"),
    path(
        "experiments/<int:pk>/", experiments_api.ExperimentDetail.as_view(), name="api-experiment"
    ),
    path(
        "experiments/<int:pk>/stop/",
        experiments_api.ExperimentStop.as_view(),
        name="api-experiment-stop",
    ),
    path("sync/", sync_api.Sync.as_view(), name="api-sync"),
]
