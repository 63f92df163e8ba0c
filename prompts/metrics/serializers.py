"""Request and answer shapes of the metrics API (for validation of the query and the OpenAPI
schema; event batches are validated by prompts.metrics.schemas)."""

from rest_framework import serializers

from prompts.metrics.schemas import MAX_BATCH
from prompts.metrics.selectors import GROUPS


class EventSerializer(serializers.Serializer):
    """One call record (documentation: the pydantic model EventIn validates)."""

    prompt = serializers.CharField(help_text='"namespace/name"')
    version = serializers.IntegerField(min_value=1)
    environment = serializers.SlugField()
    experiment = serializers.IntegerField(required=False, allow_null=True)
    arm = serializers.ChoiceField(choices=list("ABCDE"), required=False, allow_null=True)
    latency_ms = serializers.FloatField(min_value=0)
    input_tokens = serializers.IntegerField(min_value=0, default=0)
    output_tokens = serializers.IntegerField(min_value=0, default=0)
    cost_usd = serializers.FloatField(min_value=0, default=0)
    quality_score = serializers.FloatField(
        min_value=0, max_value=1, required=False, allow_null=True
    )
    feedback = serializers.ChoiceField(choices=[-1, 0, 1], required=False, allow_null=True)
    error = serializers.BooleanField(default=False)
    model = serializers.CharField(max_length=200, required=False, allow_blank=True)
    subject = serializers.CharField(max_length=200, required=False, allow_null=True)
    idempotency_key = serializers.CharField(min_length=1, max_length=100)
    occurred_at = serializers.DateTimeField(help_text="ISO 8601 with a time zone")
    metadata = serializers.DictField(required=False, allow_null=True, help_text="≤ 2 KB as JSON")


class EventBatchSerializer(serializers.Serializer):
    events = EventSerializer(many=True, max_length=MAX_BATCH)


class RejectedSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class IngestResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = RejectedSerializer(many=True)


class MetricsQuerySerializer(serializers.Serializer):
    environment = serializers.SlugField(required=False)
    to = serializers.DateTimeField(required=False)
    model = serializers.CharField(required=False, max_length=200)
    group = serializers.CharField(
        required=False, help_text=f"One of {', '.join(GROUPS)}, or several comma-separated."
    )
    exact = serializers.ChoiceField(choices=["0", "1", "false", "true"], required=False)

    def validate_group(self, value: str) -> tuple[str, ...]:
        group = tuple(part.strip() for part in value.split(","))
        if any(part not in GROUPS for part in group) or len(set(group)) != len(group):
            raise serializers.ValidationError(f"Group by distinct ones of {', '.join(GROUPS)}.")
        return group


# `from` is a Python keyword: declared after the class.
MetricsQuerySerializer._declared_fields["from"] = serializers.DateTimeField(required=False)
