from rest_framework import serializers

from approvals.models import AuditEntry, PromotionRequest, Review


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)

    class Meta:
        model = Review
        fields = ["reviewer", "decision", "comment", "created_at"]
        read_only_fields = fields


class PromotionRequestSerializer(serializers.ModelSerializer):
    prompt = serializers.CharField(source="prompt.full_name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    environment = serializers.CharField(source="environment.slug", read_only=True)
    previous_version = serializers.IntegerField(
        source="previous_version.number", read_only=True, allow_null=True
    )
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    version_author = serializers.CharField(source="version.author.username", read_only=True)
    approvals = serializers.SerializerMethodField()
    reviews = ReviewSerializer(many=True, read_only=True)

    class Meta:
        model = PromotionRequest
        fields = [
            "id",
            "prompt",
            "version",
            "environment",
            "previous_version",
            "state",
            "justification",
            "requested_by",
            "version_author",
            "required_approvals",
            "approvals",
            "override",
            "created_at",
            "decided_at",
            "superseded_by",
            "reviews",
        ]
        read_only_fields = fields

    def get_approvals(self, request: PromotionRequest) -> int:
        return request.approval_count


class PromotionRequestCreateSerializer(serializers.Serializer):
    prompt = serializers.CharField(help_text='"namespace/name"')
    version = serializers.IntegerField(min_value=1)
    environment = serializers.SlugField()
    justification = serializers.CharField()
    override = serializers.BooleanField(
        default=False,
        help_text="Staff only: skip the order of environments (audited as an override).",
    )


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class RollbackSerializer(serializers.Serializer):
    environment = serializers.SlugField()
    version = serializers.IntegerField(
        required=False, min_value=1, help_text="Default: the version that ran before."
    )
    justification = serializers.CharField()


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "seq",
            "at",
            "actor",
            "actor_type",
            "token_prefix",
            "action",
            "object_type",
            "object_id",
            "namespace",
            "justification",
            "before",
            "after",
            "request_id",
            "client_ip",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


class AuditQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="From this time (inclusive).")
    until = serializers.DateTimeField(required=False, help_text="Until this time (exclusive).")
    namespace = serializers.CharField(required=False)
    actor = serializers.CharField(required=False)
    action = serializers.CharField(required=False, help_text="Action or its prefix (`promotion.`)")


class AuditExportQuerySerializer(AuditQuerySerializer):
    format = serializers.ChoiceField(choices=["csv", "jsonl"], default="jsonl")


class AuditVerificationSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    entries = serializers.IntegerField()
    first_bad_seq = serializers.IntegerField(allow_null=True)
