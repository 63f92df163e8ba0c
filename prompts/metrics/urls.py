from django.urls import path

from prompts.metrics import views

app_name = "metrics"

urlpatterns = [
    path("prompts/<slug:namespace>/<slug:name>/metrics/", views.dashboard, name="dashboard"),
]
