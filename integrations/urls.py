"""Foreign APIs, mounted at /api/public/ (Langfuse's paths)."""

from django.urls import path

from integrations.langfuse import projects_api

urlpatterns = [
    path("projects", projects_api.Projects.as_view(), name="langfuse-projects"),
]
