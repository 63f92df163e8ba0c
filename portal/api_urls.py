"""/api/v1/: each app's endpoints (named by module, so the kernel imports no app), the OpenAPI
schema and docs, and problem+json for every unknown path."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from portal.api.docs import api_docs_view, api_redoc_view
from portal.views import api_not_found

urlpatterns = [
    path("", include("prompts.api_urls")),  # first: resolve is the hot path
    path("", include("prompts.metrics.api_urls")),
    path("", include("prompts.metrics.results_urls")),
    path("", include("prompts.evaluations.api_urls")),
    path("", include("teams.api_urls")),
    path("", include("teams.notifications.api_urls")),
    path("", include("approvals.api_urls")),
    path("", include("portal.audit.api_urls")),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="api-schema"),
    path(
        "docs/",
        api_docs_view(url_name="api-schema", permission_classes=[]),
        name="api-docs",
    ),
    path(
        "redoc/",
        api_redoc_view(url_name="api-schema", permission_classes=[]),
        name="api-redoc",
    ),
    # Unknown API paths answer problem+json, in DEBUG too.
    re_path(r"^.*$", api_not_found),
]
