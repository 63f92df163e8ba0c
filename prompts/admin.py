"""Prompts, versions, environments and deployments, for inspection with history. Changes go
through the portal or the API (environments: the staff page /environments/)."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from portal.admin import InspectOnly
from prompts.models import (
    ENVIRONMENT_SETTINGS,
    Deployment,
    Environment,
    Experiment,
    ExperimentArm,
    Prompt,
    PromptVersion,
    ResolveCount,
    StaleDigest,
    Tag,
)


@admin.register(Tag)
class TagAdmin(InspectOnly, admin.ModelAdmin):
    search_fields = ["slug"]


@admin.register(Prompt)
class PromptAdmin(InspectOnly, SimpleHistoryAdmin):
    list_display = ["__str__", "kind", "state", "updated_at"]
    list_filter = ["kind", "state", "namespace__team", "namespace", "tags"]
    search_fields = ["name", "description", "namespace__slug"]
    list_select_related = ["namespace"]


@admin.register(PromptVersion)
class PromptVersionAdmin(InspectOnly, admin.ModelAdmin):
    list_display = ["prompt", "number", "author", "template_format", "created_at", "sha256"]
    list_filter = ["template_format", "prompt__kind", "prompt__namespace"]
    search_fields = ["prompt__name", "prompt__namespace__slug", "message", "sha256"]
    list_select_related = ["prompt__namespace", "author"]


@admin.register(Environment)
class EnvironmentAdmin(InspectOnly, SimpleHistoryAdmin):
    list_display = ["slug", *ENVIRONMENT_SETTINGS]
    list_filter = ["requires_approval", "protected", "requires_evaluation"]
    search_fields = ["slug", "name"]


@admin.register(Deployment)
class DeploymentAdmin(InspectOnly, SimpleHistoryAdmin):
    list_display = ["prompt", "environment", "version", "deployed_at", "deployed_by"]
    list_filter = ["environment", "prompt__namespace"]
    search_fields = ["prompt__name", "prompt__namespace__slug"]
    list_select_related = ["prompt__namespace", "environment", "version", "deployed_by"]


@admin.register(ResolveCount)
class ResolveCountAdmin(InspectOnly, admin.ModelAdmin):
    """Resolves of deprecated prompts per day, environment and caller (flushed from Redis)."""

    list_display = ["day", "prompt", "environment", "token_name", "count"]
    list_filter = ["day", "environment"]
    search_fields = ["prompt__name", "prompt__namespace__slug", "token_name"]
    list_select_related = ["prompt__namespace", "environment"]


@admin.register(StaleDigest)
class StaleDigestAdmin(InspectOnly, admin.ModelAdmin):
    """The last stale scan per team: how many findings, when the last digest went out."""

    list_display = ["team", "findings", "scanned_at", "sent_at"]
    list_select_related = ["team"]


class ExperimentArmInline(InspectOnly, admin.TabularInline):
    model = ExperimentArm
    fields = ["label", "version", "weight", "is_control"]
    readonly_fields = fields
    extra = 0


@admin.register(Experiment)
class ExperimentAdmin(InspectOnly, admin.ModelAdmin):
    """Experiments and their arms; proposing, starting and stopping go through the portal or
    the API (approvals where the environment needs them)."""

    list_display = ["pk", "prompt", "environment", "state", "primary_metric", "started_at"]
    list_filter = ["state", "environment", "primary_metric"]
    search_fields = ["prompt__name", "prompt__namespace__slug", "hypothesis"]
    list_select_related = ["prompt__namespace", "environment"]
    inlines = [ExperimentArmInline]
