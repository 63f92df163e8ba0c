from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from approvals.models import PromotionRequest, Review
from approvals.selectors import count_approvals
from prompts.models import ARM_LABELS, Environment, Experiment


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
    then_environment = serializers.CharField(
        source="then_environment.slug",
        read_only=True,
        allow_null=True,
        help_text="Where the requester wants the version in the end: once this request "
        "applies, the next step toward it is requested in their name.",
    )
    version_author = serializers.CharField(source="version.author.username", read_only=True)
    approvals = serializers.SerializerMethodField(
        help_text="Approvals that count now: what `required_approvals` is compared with."
    )
    reviews = serializers.SerializerMethodField()

    class Meta:
        model = PromotionRequest
        fields = [
            "id",
            "kind",
            "experiment",
            "prompt",
            "version",
            "environment",
            "previous_version",
            "then_environment",
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


class ExperimentArmSerializer(serializers.Serializer):
    arm = serializers.CharField(source="label")
    version = serializers.IntegerField(source="version.number")
    weight = serializers.IntegerField()
    control = serializers.BooleanField(source="is_control")


class ExperimentSerializer(serializers.ModelSerializer):
    prompt = serializers.CharField(source="prompt.full_name", read_only=True)
    environment = serializers.CharField(source="environment.slug", read_only=True)
    arms = ExperimentArmSerializer(many=True, read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    stopped_by = serializers.CharField(
        source="stopped_by.username", read_only=True, allow_null=True, default=None
    )
    winner = serializers.CharField(
        source="winner.label", read_only=True, allow_null=True, default=None
    )
    request = serializers.SerializerMethodField(
        help_text="The promotion request of kind `experiment` (approval environments)."
    )

    class Meta:
        model = Experiment
        fields = [
            "id",
            "prompt",
            "environment",
            "state",
            "hypothesis",
            "primary_metric",
            "minimum_detectable_effect",
            "guardrails",
            "arms",
            "created_by",
            "created_at",
            "started_at",
            "stopped_at",
            "stopped_by",
            "stop_cause",
            "stop_reason",
            "winner",
            "request",
        ]
        read_only_fields = fields

    def get_request(self, experiment) -> dict | None:
        request = getattr(experiment, "promotion_request", None)
        if request is None:
            return None
        return {"id": request.pk, "state": request.state}


class ArmInputSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    weight = serializers.IntegerField(min_value=1, max_value=99)


class ExperimentCreateSerializer(serializers.Serializer):
    prompt = serializers.CharField(help_text='"namespace/name"')
    environment = serializers.SlugField()
    arms = ArmInputSerializer(many=True, help_text="2–5 arms; whole weights summing to 100.")
    hypothesis = serializers.CharField(max_length=2000)
    primary_metric = serializers.ChoiceField(choices=Experiment.Metric.choices)
    minimum_detectable_effect = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=1e9, default=None
    )
    guardrails = serializers.ListField(
        child=serializers.DictField(), required=False, default=list, max_length=10
    )
    justification = serializers.CharField(max_length=2000)


class ExperimentStopSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
    winner = serializers.ChoiceField(
        choices=list(ARM_LABELS), required=False, allow_null=True, default=None
    )


class ExperimentStoppedSerializer(serializers.Serializer):
    experiment = ExperimentSerializer()
    promotion = PromotionRequestSerializer(allow_null=True)
