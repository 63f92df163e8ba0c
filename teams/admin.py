"""Admin for inspection, with history. Changes that carry rules (memberships, namespace
ownership, tokens) go through the portal or the API, whose services keep permissions in step."""

from django.contrib import admin, messages
from rest_framework_api_key.admin import APIKey
from simple_history.admin import SimpleHistoryAdmin

from teams.models import ApiToken, Membership, Namespace, Team
from teams.tokens import token_revoke


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Team)
class TeamAdmin(SimpleHistoryAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name", "description"]
    readonly_fields = ["slug", "created_at"]
    fields = ["slug", "name", "description", "created_at"]
    inlines = [MembershipInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Membership)
class MembershipAdmin(SimpleHistoryAdmin):
    list_display = ["team", "user", "role", "created_at"]
    list_filter = ["role", "team"]
    search_fields = ["team__slug", "user__username", "user__email"]
    list_select_related = ["team", "user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Namespace)
class NamespaceAdmin(SimpleHistoryAdmin):
    list_display = ["slug", "team", "visibility", "created_at"]
    list_filter = ["visibility", "team"]
    search_fields = ["slug", "description", "team__slug"]
    list_select_related = ["team"]
    readonly_fields = ["slug", "team", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.action(description="Revoke the selected tokens")
def revoke_tokens(modeladmin, request, queryset):
    for token in queryset.filter(revoked=False):
        token_revoke(actor=request.user, token=token)
    messages.success(request, "Revoked.")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
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
    actions = [revoke_tokens]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.unregister(APIKey)
