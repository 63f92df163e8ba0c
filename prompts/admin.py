from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from prompts.models import Deployment, Environment, Prompt, PromptVersion, Tag


class ReadOnlyAdminMixin:
    """Rows that change only through services (which enforce the rules) are shown, not edited."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["slug"]


@admin.register(Prompt)
class PromptAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "kind", "state", "updated_at"]
    list_filter = ["kind", "state", "namespace__team", "namespace", "tags"]
    search_fields = ["name", "description", "namespace__slug"]
    autocomplete_fields = ["namespace", "tags"]
    list_select_related = ["namespace"]
    readonly_fields = ["created_at", "updated_at"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PromptVersion)
class PromptVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["prompt", "number", "author", "template_format", "created_at", "sha256"]
    list_filter = ["template_format", "prompt__kind", "prompt__namespace"]
    search_fields = ["prompt__name", "prompt__namespace__slug", "message", "sha256"]
    list_select_related = ["prompt__namespace", "author"]


@admin.register(Environment)
class EnvironmentAdmin(SimpleHistoryAdmin):
    list_display = [
        "slug",
        "name",
        "order",
        "requires_approval",
        "min_approvals",
        "protected",
        "requires_evaluation",
    ]
    list_filter = ["requires_approval", "protected", "requires_evaluation"]
    search_fields = ["slug", "name"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["prompt", "environment", "version", "deployed_at", "deployed_by"]
    list_filter = ["environment", "prompt__namespace"]
    search_fields = ["prompt__name", "prompt__namespace__slug"]
    list_select_related = ["prompt__namespace", "environment", "version", "deployed_by"]
