from django.urls import path

from prompts import views

app_name = "prompts"

urlpatterns = [
    path("<slug:namespace>/<slug:name>/", views.prompt_detail, name="detail"),
    path("<slug:namespace>/<slug:name>/v/<int:number>/", views.version_detail, name="version"),
]
