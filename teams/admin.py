from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from teams.models import Membership, Namespace, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(SimpleHistoryAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name", "description"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(SimpleHistoryAdmin):
    list_display = ["team", "user", "role", "created_at"]
    list_filter = ["role", "team"]
    search_fields = ["team__slug", "user__username", "user__email"]
    autocomplete_fields = ["user", "team"]
    list_select_related = ["team", "user"]


@admin.register(Namespace)
class NamespaceAdmin(SimpleHistoryAdmin):
    list_display = ["slug", "team", "visibility", "created_at"]
    list_filter = ["visibility", "team"]
    search_fields = ["slug", "description", "team__slug"]
    autocomplete_fields = ["team"]
    list_select_related = ["team"]
