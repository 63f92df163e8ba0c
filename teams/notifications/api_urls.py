from django.urls import path

from teams.notifications import api

urlpatterns = [
    path("notifications/", api.NotificationList.as_view(), name="api-notifications"),
    path(
        "notifications/unread-count/",
        api.UnreadCount.as_view(),
        name="api-notifications-unread-count",
    ),
    path(
        "notifications/read-all/", api.NotificationReadAll.as_view(), name="api-notifications-read"
    ),
    path(
        "notifications/preferences/",
        api.Preferences.as_view(),
        name="api-notification-preferences",
    ),
    path(
        "notifications/<int:pk>/read/", api.NotificationRead.as_view(), name="api-notification-read"
    ),
    path(
        "teams/<slug:team>/notifications/",
        api.TeamDeliveries.as_view(),
        name="api-team-deliveries",
    ),
    path("teams/<slug:team>/webhooks/", api.WebhookListCreate.as_view(), name="api-webhooks"),
    path("teams/<slug:team>/webhooks/<int:pk>/", api.WebhookDetail.as_view(), name="api-webhook"),
    path(
        "teams/<slug:team>/webhooks/<int:pk>/test/",
        api.WebhookTest.as_view(),
        name="api-webhook-test",
    ),
    path(
        "teams/<slug:team>/webhooks/<int:pk>/deliveries/",
        api.WebhookAttempts.as_view(),
        name="api-webhook-deliveries",
    ),
]
