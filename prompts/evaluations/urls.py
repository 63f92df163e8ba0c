"""Portal pages of evaluations: suites, runs, the matrix, the playground."""

from django.urls import path  # noqa: F401 - each module's paths are added below

app_name = "evaluations"
urlpatterns: list = []
