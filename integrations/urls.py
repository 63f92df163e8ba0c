"""Foreign APIs, mounted at /api/public/ (Langfuse's paths)."""

from django.urls import path

from integrations.langfuse import otel_api, projects_api

urlpatterns = [
    path("projects", projects_api.Projects.as_view(), name="langfuse-projects"),
    path("otel/v1/traces", otel_api.OtelTraces.as_view(), name="langfuse-otel-traces"),
]
