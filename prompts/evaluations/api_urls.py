"""/api/v1/ endpoints of evaluations: suites, models, runs, the matrix, the playground."""

from django.urls import path

from prompts.evaluations import runs_api

urlpatterns: list = []

urlpatterns += [
    path("evaluations/", runs_api.RunListCreate.as_view(), name="api-evaluations"),
    path("evaluations/<int:pk>/", runs_api.RunDetail.as_view(), name="api-evaluation"),
    path(
        "evaluations/<int:pk>/cancel/", runs_api.RunCancel.as_view(), name="api-evaluation-cancel"
    ),
]

from prompts.evaluations import matrix_api  # noqa: E402

urlpatterns += [
    path(
        "prompts/<slug:namespace>/<slug:name>/evaluations/matrix/",
        matrix_api.PromptMatrix.as_view(),
        name="api-evaluation-matrix",
    ),
]

from prompts.evaluations import suites_api  # noqa: E402

_suites = "prompts/<slug:namespace>/<slug:name>/suites/"
urlpatterns += [
    path(_suites, suites_api.SuiteListCreate.as_view(), name="api-suites"),
    path(f"{_suites}import/", suites_api.SuiteImport.as_view(), name="api-suite-import"),
    path(f"{_suites}<int:suite>/", suites_api.SuiteDetail.as_view(), name="api-suite"),
    path(
        f"{_suites}<int:suite>/export/", suites_api.SuiteExport.as_view(), name="api-suite-export"
    ),
    path(f"{_suites}<int:suite>/cases/", suites_api.CaseCreate.as_view(), name="api-suite-cases"),
    path(
        f"{_suites}<int:suite>/cases/<int:case>/",
        suites_api.CaseDetail.as_view(),
        name="api-suite-case",
    ),
]

from prompts.evaluations import models_api  # noqa: E402

urlpatterns += [
    path("models/", models_api.ModelListCreate.as_view(), name="api-models"),
    path("models/<str:name>/", models_api.ModelDetail.as_view(), name="api-model"),
    path(
        "teams/<slug:team>/watched-models/",
        models_api.WatchedModelListCreate.as_view(),
        name="api-watched-models",
    ),
    path(
        "teams/<slug:team>/watched-models/<str:name>/",
        models_api.WatchedModelDetail.as_view(),
        name="api-watched-model",
    ),
]

from prompts.evaluations import playground_api  # noqa: E402

urlpatterns += [
    path(
        "prompts/<slug:namespace>/<slug:name>/playground/",
        playground_api.PlaygroundCalls.as_view(),
        name="api-playground",
    ),
    path(
        "prompts/<slug:namespace>/<slug:name>/playground/<int:pk>/save/",
        playground_api.PlaygroundSaveCase.as_view(),
        name="api-playground-save",
    ),
]

from prompts.evaluations import gate_api  # noqa: E402

urlpatterns += [
    path(
        "prompts/<slug:namespace>/<slug:name>/versions/<int:number>/gate/",
        gate_api.VersionGate.as_view(),
        name="api-version-gate",
    ),
]
