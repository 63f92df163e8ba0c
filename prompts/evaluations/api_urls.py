"""/api/v1/ endpoints of evaluations: suites, models, runs, the matrix, the playground."""

from django.urls import path  # noqa: F401 - each module's paths are added below

urlpatterns: list = []
