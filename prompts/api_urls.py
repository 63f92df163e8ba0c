from django.urls import path

from prompts import api, batch_api, lifecycle_api

PROMPT = "prompts/<slug:namespace>/<slug:name>/"

urlpatterns = [
    # The hot path first: URL resolution is a linear scan.
    path("resolve/<slug:namespace>/<slug:name>/", api.Resolve.as_view(), name="api-resolve"),
    path("resolve/<slug:namespace>/<slug:name>/render/", api.Render.as_view(), name="api-render"),
    path("resolve/batch/", batch_api.ResolveBatch.as_view(), name="api-resolve-batch"),
    path("environments/", api.EnvironmentListCreate.as_view(), name="api-environments"),
    path(
        "environments/<slug:environment>/",
        api.EnvironmentDetail.as_view(),
        name="api-environment",
    ),
    path("prompts/", api.PromptListCreate.as_view(), name="api-prompts"),
    path(PROMPT, api.PromptDetail.as_view(), name="api-prompt"),
    path(f"{PROMPT}deprecate/", lifecycle_api.Deprecate.as_view(), name="api-prompt-deprecate"),
    path(f"{PROMPT}retire/", lifecycle_api.Retire.as_view(), name="api-prompt-retire"),
    path(f"{PROMPT}reactivate/", lifecycle_api.Reactivate.as_view(), name="api-prompt-reactivate"),
    path(f"{PROMPT}versions/", api.VersionListCreate.as_view(), name="api-versions"),
    path(f"{PROMPT}versions/<int:number>/", api.VersionDetail.as_view(), name="api-version"),
    path(
        f"{PROMPT}versions/<int:number>/diff/",
        api.VersionDiff.as_view(),
        name="api-version-diff",
    ),
]
