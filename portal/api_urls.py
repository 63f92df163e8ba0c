from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from approvals import api as approvals_api
from portal import converters  # noqa: F401 - registers <token:> and <username:>
from portal.views import api_not_found
from prompts import api as prompts_api
from teams import api as teams_api

PROMPT = "prompts/<slug:namespace>/<slug:name>/"

urlpatterns = [
    # The hot path first: URL resolution is a linear scan.
    path(
        "resolve/<slug:namespace>/<slug:name>/",
        prompts_api.Resolve.as_view(),
        name="api-resolve",
    ),
    path(
        "resolve/<slug:namespace>/<slug:name>/render/",
        prompts_api.Render.as_view(),
        name="api-render",
    ),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="api-schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", permission_classes=[]),
        name="api-docs",
    ),
    path("users/", teams_api.UserListCreate.as_view(), name="api-users"),
    path("tokens/", teams_api.TokenListCreate.as_view(), name="api-tokens"),
    path("tokens/<token:id>/", teams_api.TokenDetail.as_view(), name="api-token"),
    path("teams/", teams_api.TeamListCreate.as_view(), name="api-teams"),
    path("teams/<slug:team>/", teams_api.TeamDetail.as_view(), name="api-team"),
    path("teams/<slug:team>/members/", teams_api.MemberListCreate.as_view(), name="api-members"),
    path(
        "teams/<slug:team>/members/<username:username>/",
        teams_api.MemberDetail.as_view(),
        name="api-member",
    ),
    path("namespaces/", teams_api.NamespaceListCreate.as_view(), name="api-namespaces"),
    path("namespaces/<slug:namespace>/", teams_api.NamespaceDetail.as_view(), name="api-namespace"),
    path(
        "namespaces/<slug:namespace>/promotion-rights/",
        teams_api.PromotionRights.as_view(),
        name="api-promotion-rights",
    ),
    path(
        "namespaces/<slug:namespace>/service-tokens/",
        teams_api.ServiceTokenListCreate.as_view(),
        name="api-service-tokens",
    ),
    path(
        "namespaces/<slug:namespace>/service-tokens/<token:id>/",
        teams_api.ServiceTokenDetail.as_view(),
        name="api-service-token",
    ),
    path("environments/", prompts_api.EnvironmentListCreate.as_view(), name="api-environments"),
    path(
        "environments/<slug:environment>/",
        prompts_api.EnvironmentDetail.as_view(),
        name="api-environment",
    ),
    path("prompts/", prompts_api.PromptListCreate.as_view(), name="api-prompts"),
    path(PROMPT, prompts_api.PromptDetail.as_view(), name="api-prompt"),
    path(f"{PROMPT}versions/", prompts_api.VersionListCreate.as_view(), name="api-versions"),
    path(
        f"{PROMPT}versions/<int:number>/",
        prompts_api.VersionDetail.as_view(),
        name="api-version",
    ),
    path(
        f"{PROMPT}versions/<int:number>/diff/",
        prompts_api.VersionDiff.as_view(),
        name="api-version-diff",
    ),
    path(f"{PROMPT}rollback/", approvals_api.Rollback.as_view(), name="api-rollback"),
    path(
        f"{PROMPT}deployments/",
        approvals_api.DeploymentHistory.as_view(),
        name="api-deployment-history",
    ),
    path("promotions/", approvals_api.PromotionListCreate.as_view(), name="api-promotions"),
    path("promotions/<int:pk>/", approvals_api.PromotionDetail.as_view(), name="api-promotion"),
    path(
        "promotions/<int:pk>/approve/",
        approvals_api.PromotionApprove.as_view(),
        name="api-promotion-approve",
    ),
    path(
        "promotions/<int:pk>/reject/",
        approvals_api.PromotionReject.as_view(),
        name="api-promotion-reject",
    ),
    path(
        "promotions/<int:pk>/cancel/",
        approvals_api.PromotionCancel.as_view(),
        name="api-promotion-cancel",
    ),
    path("audit/", approvals_api.AuditList.as_view(), name="api-audit"),
    path("audit/export/", approvals_api.AuditExport.as_view(), name="api-audit-export"),
    path("audit/verify/", approvals_api.AuditVerify.as_view(), name="api-audit-verify"),
    # Unknown API paths answer problem+json, in DEBUG too.
    re_path(r"^.*$", api_not_found),
]
