from django.urls import path

from prompts.metrics import results_api

urlpatterns = [
    path(
        "experiments/<int:pk>/results/",
        results_api.ExperimentResultsView.as_view(),
        name="api-experiment-results",
    ),
]
