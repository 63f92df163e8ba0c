from django.urls import path

from teams.notifications import views

app_name = "notifications"

urlpatterns = [
    path("notifications/", views.inbox, name="inbox"),
    path("notifications/count/", views.unread_count, name="count"),
    path("notifications/read-all/", views.mark_all_read, name="read_all"),
    path("notifications/<int:pk>/read/", views.mark_read, name="read"),
    path("notifications/settings/", views.preferences, name="settings"),
    path("teams/<slug:team>/notifications/", views.team_sent, name="team_sent"),
    path("teams/<slug:team>/webhooks/", views.webhook_create, name="webhook_create"),
    path("teams/<slug:team>/webhooks/<int:pk>/", views.webhook_detail, name="webhook"),
    path("teams/<slug:team>/webhooks/<int:pk>/test/", views.webhook_test, name="webhook_test"),
    path(
        "teams/<slug:team>/webhooks/<int:pk>/active/",
        views.webhook_active,
        name="webhook_active",
    ),
    path(
        "teams/<slug:team>/webhooks/<int:pk>/delete/",
        views.webhook_delete,
        name="webhook_delete",
    ),
]
