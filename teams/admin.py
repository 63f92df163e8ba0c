"""Teams, memberships, namespaces and tokens, for inspection with history. Changes go through
the portal or the API, whose services keep permissions in step and audit."""

from django.contrib import admin
from rest_framework_api_key.admin import APIKey
from simple_history.admin import SimpleHistoryAdmin

from portal.admin import InspectOnly
from teams.models import ApiToken, Membership, Namespace, Team


class MembershipInline(InspectOnly, admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = fields


@admin.register(Team)
class TeamAdmin(InspectOnly, SimpleHistoryAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name", "description"]
    fields = ["slug", "name", "description", "created_at"]
    readonly_fields = fields
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(InspectOnly, SimpleHistoryAdmin):
    list_display = ["team", "user", "role", "created_at"]
    list_filter = ["role", "team"]
    search_fields = ["team__slug", "user__username", "user__email"]
    list_select_related = ["team", "user"]


@admin.register(Namespace)
class NamespaceAdmin(InspectOnly, SimpleHistoryAdmin):
    list_display = ["slug", "team", "visibility", "created_at"]
    list_filter = ["visibility", "team"]
    search_fields = ["slug", "description", "team__slug"]
    list_select_related = ["team"]


@admin.register(ApiToken)
class ApiTokenAdmin(InspectOnly, admin.ModelAdmin):
    list_display = [
        "prefix",
        "name",
        "kind",
        "user",
        "created",
        "expiry_date",
        "last_used_at",
        "revoked",
    ]
    list_filter = ["kind", "revoked"]
    search_fields = ["prefix", "name", "user__username", "namespaces__slug"]
    list_select_related = ["user"]
    exclude = ["hashed_key"]


admin.site.unregister(APIKey)
