from django.urls import path

from prompts import lifecycle_views, views

app_name = "prompts"

urlpatterns = [
    path("environments/", views.environment_list, name="environments"),
    path("environments/new/", views.environment_create, name="environment_create"),
    path(
        "environments/<slug:environment>/edit/",
        views.environment_update,
        name="environment_update",
    ),
    path("prompts/new/", views.prompt_create, name="create"),
    path("prompts/<slug:namespace>/<slug:name>/", views.prompt_detail, name="detail"),
    path(
        "prompts/<slug:namespace>/<slug:name>/v/<int:number>/", views.version_detail, name="version"
    ),
    path(
        "prompts/<slug:namespace>/<slug:name>/lifecycle/",
        lifecycle_views.lifecycle_page,
        name="lifecycle",
    ),
    path(
        "prompts/<slug:namespace>/<slug:name>/lifecycle/deprecate/",
        lifecycle_views.deprecate,
        name="deprecate",
    ),
    path(
        "prompts/<slug:namespace>/<slug:name>/lifecycle/retire/",
        lifecycle_views.retire,
        name="retire",
    ),
    path(
        "prompts/<slug:namespace>/<slug:name>/lifecycle/reactivate/",
        lifecycle_views.reactivate,
        name="reactivate",
    ),
    path("prompts/<slug:namespace>/<slug:name>/preview/", views.render_preview, name="preview"),
    path(
        "prompts/<slug:namespace>/<slug:name>/versions/new/",
        views.version_create,
        name="version_create",
    ),
]
