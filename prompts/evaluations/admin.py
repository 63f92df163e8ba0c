"""Evaluations for inspection: the model registry with its history, suites with their cases,
runs with their per-case results, the teams' watch lists and the playground calls. Changes go
through the portal or the API (the registry: staff, audited)."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from portal.admin import InspectOnly
from prompts.evaluations.models import (
    Case,
    CaseResult,
    Model,
    PlaygroundCall,
    Run,
    Suite,
    WatchedModel,
)


@admin.register(Model)
class ModelAdmin(InspectOnly, SimpleHistoryAdmin):
    list_display = ["name", "family", "provider", "provider_model_id", "released_at"]
    list_filter = ["provider", "family"]
    search_fields = ["name", "family", "provider_model_id", "notes"]


class CaseInline(InspectOnly, admin.TabularInline):
    model = Case
    fields = ["position", "description", "variables", "assertions", "threshold"]
    readonly_fields = fields
    extra = 0


@admin.register(Suite)
class SuiteAdmin(InspectOnly, admin.ModelAdmin):
    list_display = ["name", "prompt", "pass_threshold", "created_by", "updated_at"]
    list_filter = ["prompt__namespace"]
    search_fields = ["name", "prompt__name", "prompt__namespace__slug"]
    list_select_related = ["prompt__namespace", "created_by"]
    inlines = [CaseInline]


class CaseResultInline(InspectOnly, admin.TabularInline):
    model = CaseResult
    fields = [
        "position",
        "passed",
        "score",
        "output",
        "assertions",
        "latency_ms",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "error",
    ]
    readonly_fields = fields
    extra = 0


@admin.register(Run)
class RunAdmin(InspectOnly, admin.ModelAdmin):
    list_display = ["pk", "prompt", "version", "suite", "model", "state", "pass_rate", "created_at"]
    list_filter = ["state", "trigger", "model"]
    search_fields = ["prompt__name", "prompt__namespace__slug", "suite__name", "model__name"]
    list_select_related = ["prompt__namespace", "version", "suite", "model"]
    inlines = [CaseResultInline]


@admin.register(WatchedModel)
class WatchedModelAdmin(InspectOnly, admin.ModelAdmin):
    list_display = ["team", "model", "added_at"]
    list_filter = ["team"]
    list_select_related = ["team", "model"]


@admin.register(PlaygroundCall)
class PlaygroundCallAdmin(InspectOnly, admin.ModelAdmin):
    list_display = ["pk", "prompt", "version", "model", "user", "cost_usd", "created_at"]
    list_filter = ["model"]
    search_fields = ["prompt__name", "prompt__namespace__slug", "user__username"]
    list_select_related = ["prompt__namespace", "version", "model", "user"]
