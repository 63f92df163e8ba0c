"""Promotion requests and reviews, for inspection. Decisions go through the portal or the API."""

from django.contrib import admin

from approvals.models import PromotionRequest, Review
from portal.admin import InspectOnly


class ReviewInline(InspectOnly, admin.TabularInline):
    model = Review
    extra = 0
    fields = ["reviewer", "decision", "comment", "created_at"]
    readonly_fields = fields


@admin.register(PromotionRequest)
class PromotionRequestAdmin(InspectOnly, admin.ModelAdmin):
    list_display = ["pk", "prompt", "version", "environment", "state", "requested_by", "created_at"]
    list_filter = ["state", "environment"]
    search_fields = ["prompt__name", "prompt__namespace__slug", "justification"]
    list_select_related = ["prompt__namespace", "version", "environment", "requested_by"]
    inlines = [ReviewInline]
