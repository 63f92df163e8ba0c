"""Portal pages of evaluations: suites, runs, the matrix, the playground."""

from django.urls import path

app_name = "evaluations"
urlpatterns: list = []

from prompts.evaluations import views_matrix  # noqa: E402

urlpatterns += [
    path(
        "prompts/<slug:namespace>/<slug:name>/evaluations/matrix/",
        views_matrix.matrix,
        name="matrix",
    ),
    path("evaluations/compare/", views_matrix.compare, name="compare"),
]

from prompts.evaluations import views_runs  # noqa: E402

urlpatterns += [
    path("prompts/<slug:namespace>/<slug:name>/evaluations/", views_runs.run_list, name="runs"),
    path("evaluations/runs/<int:pk>/", views_runs.run_detail, name="run"),
    path("evaluations/runs/<int:pk>/progress/", views_runs.run_progress, name="run_progress"),
    path("evaluations/runs/<int:pk>/cancel/", views_runs.run_cancel, name="run_cancel"),
]

from prompts.evaluations import views_gate  # noqa: E402

urlpatterns += [
    path(
        "prompts/<slug:namespace>/<slug:name>/versions/<int:number>/gate/<slug:environment>/run/",
        views_gate.gate_run,
        name="gate_run",
    ),
]

from prompts.evaluations import views_playground  # noqa: E402

urlpatterns += [
    path(
        "prompts/<slug:namespace>/<slug:name>/playground/",
        views_playground.playground_page,
        name="playground",
    ),
    path(
        "prompts/<slug:namespace>/<slug:name>/playground/<int:pk>/save/",
        views_playground.playground_save,
        name="playground_save",
    ),
]

from prompts.evaluations import views_suites  # noqa: E402

_suites = "prompts/<slug:namespace>/<slug:name>/suites/"
urlpatterns += [
    path(_suites, views_suites.suite_list, name="suites"),
    path(f"{_suites}import/", views_suites.suite_import, name="suite_import"),
    path(f"{_suites}<int:pk>/", views_suites.suite_detail, name="suite"),
    path(f"{_suites}<int:pk>/delete/", views_suites.suite_delete, name="suite_delete"),
    path(f"{_suites}<int:pk>/cases/new/", views_suites.case_add, name="case_add"),
    path(f"{_suites}<int:pk>/cases/<int:case>/", views_suites.case_edit, name="case_edit"),
    path(
        f"{_suites}<int:pk>/cases/<int:case>/delete/",
        views_suites.case_delete,
        name="case_delete",
    ),
]
