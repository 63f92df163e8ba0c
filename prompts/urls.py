from django.urls import path

from prompts import views

app_name = "prompts"

urlpatterns = [
    path("prompts/new/", views.prompt_create, name="create"),
    path("prompts/<slug:namespace>/<slug:name>/", views.prompt_detail, name="detail"),
    path(
        "prompts/<slug:namespace>/<slug:name>/v/<int:number>/", views.version_detail, name="version"
    ),
    path("prompts/<slug:namespace>/<slug:name>/preview/", views.render_preview, name="preview"),
    path(
        "prompts/<slug:namespace>/<slug:name>/versions/new/",
        views.version_create,
        name="version_create",
    ),
]
