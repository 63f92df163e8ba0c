"""Read-only admin of notifications (InspectOnly, as everywhere). A webhook's secret is never
shown here."""

from django.contrib import admin

from portal.admin import InspectOnly
from teams.notifications.models import Delivery, Notification, Preference, Webhook, WebhookAttempt


@admin.register(Notification)
class NotificationAdmin(InspectOnly, admin.ModelAdmin):
    list_display = ["pk", "created_at", "user", "team", "event", "subject", "read_at"]
    list_filter = ["event"]
    search_fields = ["user__username", "subject"]


@admin.register(Delivery)
class DeliveryAdmin(InspectOnly, admin.ModelAdmin):
    list_display = ["pk", "created_at", "channel", "status", "event", "team", "target", "attempts"]
    list_filter = ["channel", "status", "event"]
    search_fields = ["target", "subject"]


@admin.register(Webhook)
class WebhookAdmin(InspectOnly, admin.ModelAdmin):
    list_display = ["pk", "team", "url", "is_active", "consecutive_failures", "created_at"]
    list_filter = ["is_active"]
    exclude = ["secret"]


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(InspectOnly, admin.ModelAdmin):
    list_display = ["pk", "at", "webhook", "number", "status_code", "ok", "duration_ms", "error"]
    list_filter = ["ok"]


@admin.register(Preference)
class PreferenceAdmin(InspectOnly, admin.ModelAdmin):
    list_display = ["user", "event", "email"]
