"""Foreign APIs, mounted at /api/public/ (Langfuse's paths)."""

from django.urls import path

from integrations.langfuse import otel_api, projects_api, prompts_api

urlpatterns = [
    path("projects", projects_api.Projects.as_view(), name="langfuse-projects"),
    path("otel/v1/traces", otel_api.OtelTraces.as_view(), name="langfuse-otel-traces"),
    # Langfuse names hold a slash (sent as %2F, which Django decodes): `path:`, and the
    # versions route before the prompt's own.
    path("v2/prompts", prompts_api.PromptList.as_view(), name="langfuse-prompts"),
    path(
        "v2/prompts/<path:name>/versions/<int:version>",
        prompts_api.PromptVersionLabels.as_view(),
        name="langfuse-prompt-version",
    ),
    path("v2/prompts/<path:name>", prompts_api.PromptDetail.as_view(), name="langfuse-prompt"),
]
