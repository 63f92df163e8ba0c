"""/api/v1/ endpoints of evaluations: suites, models, runs, the matrix, the playground."""

from django.urls import path  # noqa: F401 - each module's paths are added below

from prompts.evaluations import runs_api

urlpatterns: list = []

urlpatterns += [
    path("evaluations/", runs_api.RunListCreate.as_view(), name="api-evaluations"),
    path("evaluations/<int:pk>/", runs_api.RunDetail.as_view(), name="api-evaluation"),
    path(
        "evaluations/<int:pk>/cancel/", runs_api.RunCancel.as_view(), name="api-evaluation-cancel"
    ),
]
