"""Serializers of evaluation runs and their per-case results."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from prompts.evaluations.models import CaseResult, Run


class RunCreateSerializer(serializers.Serializer):
    prompt = serializers.CharField(max_length=200, help_text='"namespace/name"')
    version = serializers.IntegerField(min_value=1)
    suite = serializers.CharField(max_length=100, help_text="The suite's id or name.")
    model = serializers.CharField(max_length=100, help_text="A registered model's name.")


class CaseResultSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id", read_only=True, allow_null=True)

    class Meta:
        model = CaseResult
        fields = [
            "position",
            "case",
            "description",
            "variables",
            "rendered",
            "output",
            "passed",
            "score",
            "assertions",
            "latency_ms",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "error",
        ]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    prompt = serializers.CharField(source="prompt.full_name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    suite = serializers.SerializerMethodField()
    model = serializers.CharField(source="model.name", read_only=True)
    offline_echo = serializers.BooleanField(
        source="model.is_offline_echo",
        read_only=True,
        help_text="The model is the offline echo provider (the output is the prompt itself), "
        "not a language model.",
    )
    requested_by = serializers.CharField(
        source="requested_by.username", read_only=True, allow_null=True, default=None
    )
    results = serializers.SerializerMethodField(
        help_text="One per recorded case, in the suite's order (`GET /evaluations/{id}/`); "
        "null in lists."
    )

    class Meta:
        model = Run
        fields = [
            "id",
            "prompt",
            "version",
            "suite",
            "model",
            "offline_echo",
            "state",
            "trigger",
            "requested_by",
            "total",
            "done",
            "passed_cases",
            "pass_rate",
            "pass_threshold",
            "total_cost_usd",
            "mean_latency_ms",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "results",
        ]
        read_only_fields = fields

    def get_suite(self, run: Run) -> dict:
        return {"id": run.suite_id, "name": run.suite.name}

    @extend_schema_field(CaseResultSerializer(many=True, allow_null=True))
    def get_results(self, run: Run) -> list[dict] | None:
        if not self.context.get("with_results"):
            return None
        return CaseResultSerializer(run.results.order_by("position"), many=True).data
