from django.contrib import admin

from portal.admin import InspectOnly
from portal.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(InspectOnly, admin.ModelAdmin):
    list_display = ["seq", "at", "actor", "action", "object_type", "object_id", "namespace"]
    list_filter = ["action", "actor_type"]
    search_fields = ["actor", "action", "object_id", "namespace", "justification"]
