from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from approvals.models import PromotionRequest, Review
from approvals.selectors import count_approvals
from prompts.models import Environment


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    counts = serializers.SerializerMethodField(
        help_text="Whether this approval counts now (false once the reviewer lost the right "
        "or was deactivated; always false for a rejection)."
    )

    class Meta:
        model = Review
        fields = ["reviewer", "decision", "comment", "created_at", "counts"]
        read_only_fields = fields

    def get_counts(self, review: Review) -> bool:
        return review.reviewer_id in self.context.get("counted", ())


class CountedListSerializer(serializers.ListSerializer):
    """Counts the approvals of a whole page at once (three queries) before serializing it."""

    def to_representation(self, data):
        return super().to_representation(
            count_approvals(data.all() if hasattr(data, "all") else data)
        )


class PromotionRequestSerializer(serializers.ModelSerializer):
    prompt = serializers.CharField(source="prompt.full_name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    environment = serializers.CharField(source="environment.slug", read_only=True)
    previous_version = serializers.IntegerField(
        source="previous_version.number", read_only=True, allow_null=True
    )
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    version_author = serializers.CharField(source="version.author.username", read_only=True)
    approvals = serializers.SerializerMethodField(
        help_text="Approvals that count now: what `required_approvals` is compared with."
    )
    reviews = serializers.SerializerMethodField()

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
        list_serializer_class = CountedListSerializer

    def _counted(self, request: PromotionRequest) -> PromotionRequest:
        if not hasattr(request, "counted"):
            count_approvals([request])
        return request

    def get_approvals(self, request: PromotionRequest) -> int:
        return self._counted(request).approvals

    @extend_schema_field(ReviewSerializer(many=True))
    def get_reviews(self, request: PromotionRequest) -> list[dict]:
        context = {"counted": self._counted(request).counted}
        return ReviewSerializer(request.reviews.all(), many=True, context=context).data


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


class PromotionRightSerializer(serializers.Serializer):
    environment = serializers.CharField(source="environment.slug")
    username = serializers.CharField(source="user.username", allow_null=True, default=None)
    team = serializers.CharField(source="team.slug", allow_null=True, default=None)


class PromotionRightInputSerializer(serializers.Serializer):
    environment = serializers.SlugRelatedField(
        slug_field="slug", queryset=Environment.objects.all()
    )
    username = serializers.CharField(required=False)
    team = serializers.CharField(required=False)

    def validate(self, attrs):
        if ("username" in attrs) == ("team" in attrs):
            raise serializers.ValidationError("Name exactly one of 'username' or 'team'.")
        return attrs
