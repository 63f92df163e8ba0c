"""The bodies and queries of the Langfuse prompt API, as the `langfuse` SDK sends and parses
them (camelCase; nulls where the SDK sends them). Input serializers validate; output ones
document the answers."""

from rest_framework import serializers

from integrations.langfuse.prompts import MAX_PAGE_SIZE, MAX_VERSION, NAME_HELP

KINDS = (("text", "text"), ("chat", "chat"))


def _label() -> serializers.CharField:
    return serializers.CharField(max_length=63)


class LangfusePromptQuerySerializer(serializers.Serializer):
    label = serializers.CharField(
        required=False, max_length=63, help_text="An environment's slug, or `latest`."
    )
    version = serializers.IntegerField(required=False, min_value=1, max_value=MAX_VERSION)

    def validate(self, attrs):
        if "label" in attrs and "version" in attrs:
            raise serializers.ValidationError({"version": ["Give a label or a version, not both."]})
        return attrs


class LangfusePromptListQuerySerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=200, help_text=NAME_HELP)
    label = serializers.CharField(required=False, max_length=63)
    tag = serializers.CharField(required=False, max_length=63)
    page = serializers.IntegerField(required=False, min_value=1, max_value=10**6, default=1)
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=10**6,
        default=50,
        help_text=f"At most {MAX_PAGE_SIZE} are answered.",
    )


class LangfusePromptCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, help_text=NAME_HELP)
    type = serializers.ChoiceField(choices=KINDS, required=False, allow_null=True)
    prompt = serializers.JSONField(
        help_text="The text, or chat messages `[{role, content}]` (no placeholders)."
    )
    config = serializers.JSONField(required=False, allow_null=True, help_text="model_config")
    labels = serializers.ListField(child=_label(), required=False, allow_null=True, max_length=20)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=63), required=False, allow_null=True, max_length=50
    )
    commitMessage = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=10_000
    )

    def validate_config(self, value):
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("The config is a JSON object (our model_config).")
        return value


class LangfuseLabelsSerializer(serializers.Serializer):
    newLabels = serializers.ListField(child=_label(), max_length=20)


class LangfusePromptSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.ChoiceField(choices=KINDS)
    prompt = serializers.JSONField(help_text="The text, or a list of {role, content} messages.")
    name = serializers.CharField()
    version = serializers.IntegerField()
    config = serializers.JSONField()
    labels = serializers.ListField(child=serializers.CharField())
    tags = serializers.ListField(child=serializers.CharField())
    commitMessage = serializers.CharField(allow_null=True)
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()
    projectId = serializers.CharField()
    createdBy = serializers.CharField()
    resolutionGraph = serializers.JSONField(allow_null=True)
    isActive = serializers.BooleanField(allow_null=True)


class LangfusePromotionRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    label = serializers.CharField()
    environment = serializers.CharField()
    state = serializers.CharField()
    requiredApprovals = serializers.IntegerField()
    detail = serializers.CharField()


class LangfuseLabelOutcomeSerializer(serializers.Serializer):
    label = serializers.CharField()
    state = serializers.ChoiceField(choices=["held", "pending", "refused"])
    environment = serializers.CharField(allow_null=True)
    request = serializers.DictField(required=False)
    detail = serializers.CharField(required=False)
    code = serializers.CharField(required=False)


class LangfuseWrittenSerializer(LangfusePromptSerializer):
    versionCreated = serializers.BooleanField(
        help_text="False when the content equals the newest version's: no version was made."
    )
    promotionRequests = LangfusePromotionRequestSerializer(many=True)
    labelOutcomes = LangfuseLabelOutcomeSerializer(many=True)


class LangfusePromptMetaSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=KINDS)
    versions = serializers.ListField(child=serializers.IntegerField())
    labels = serializers.ListField(child=serializers.CharField())
    tags = serializers.ListField(child=serializers.CharField())
    lastUpdatedAt = serializers.DateTimeField()
    lastConfig = serializers.JSONField()


class LangfuseMetaSerializer(serializers.Serializer):
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    totalItems = serializers.IntegerField()
    totalPages = serializers.IntegerField()


class LangfusePromptListSerializer(serializers.Serializer):
    data = LangfusePromptMetaSerializer(many=True)
    meta = LangfuseMetaSerializer()
