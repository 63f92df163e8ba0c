from django.urls import path

from prompts.metrics import api

urlpatterns = [
    path("events/", api.Events.as_view(), name="api-events"),
    path(
        "prompts/<slug:namespace>/<slug:name>/metrics/",
        api.PromptMetrics.as_view(),
        name="api-prompt-metrics",
    ),
]
