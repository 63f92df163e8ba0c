from rest_framework import serializers

from portal.api.schema import ProblemSerializer
from prompts.models import ENVIRONMENT_SETTINGS, Environment, Prompt, PromptVersion


class EnvironmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Environment
        fields = ["slug", *ENVIRONMENT_SETTINGS]


class EnvironmentUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Environment
        fields = list(ENVIRONMENT_SETTINGS)
        extra_kwargs = {field: {"required": False} for field in fields}


class PromptSerializer(serializers.ModelSerializer):
    namespace = serializers.CharField(source="namespace.slug", read_only=True)
    team = serializers.CharField(source="namespace.team.slug", read_only=True)
    full_name = serializers.CharField(read_only=True)
    tags = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    latest_version = serializers.IntegerField(read_only=True, allow_null=True)
    deployments = serializers.SerializerMethodField()
    successor = serializers.SerializerMethodField()

    class Meta:
        model = Prompt
        fields = [
            "full_name",
            "namespace",
            "name",
            "team",
            "kind",
            "description",
            "tags",
            "state",
            "deprecation_reason",
            "deprecated_at",
            "sunset_at",
            "successor",
            "latest_version",
            "deployments",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_deployments(self, prompt: Prompt) -> dict[str, int]:
        """Environment slug -> the version number it runs."""
        return {d.environment.slug: d.version.number for d in prompt.deployments.all()}

    def get_successor(self, prompt: Prompt) -> str | None:
        """The prompt to use instead (`namespace/name`), named when deprecated."""
        return prompt.successor.full_name if prompt.successor_id else None


class PromptCreateSerializer(serializers.Serializer):
    namespace = serializers.SlugField(max_length=63)
    name = serializers.CharField(max_length=63)
    kind = serializers.ChoiceField(choices=Prompt.Kind.choices, default=Prompt.Kind.TEXT)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=63), required=False, default=list
    )


class PromptUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=63), required=False)


class MessageSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField(trim_whitespace=False)


class VersionSerializer(serializers.ModelSerializer):
    prompt = serializers.CharField(source="prompt.full_name", read_only=True)
    author = serializers.CharField(source="author.username", read_only=True)
    parent = serializers.IntegerField(source="parent.number", read_only=True, allow_null=True)
    messages = MessageSerializer(many=True, read_only=True, allow_null=True)
    variables = serializers.ListField(child=serializers.CharField(), read_only=True)
    model_config = serializers.DictField(read_only=True)

    class Meta:
        model = PromptVersion
        fields = [
            "prompt",
            "number",
            "template",
            "messages",
            "template_format",
            "variables",
            "model_config",
            "message",
            "author",
            "created_at",
            "sha256",
            "parent",
        ]
        read_only_fields = fields


class VersionCreateSerializer(serializers.Serializer):
    template = serializers.CharField(
        required=False,
        allow_null=True,
        trim_whitespace=False,
        help_text="Text prompts: the template.",
    )
    messages = serializers.JSONField(
        required=False, allow_null=True, help_text='Chat prompts: [{"role": …, "content": …}, …].'
    )
    template_format = serializers.ChoiceField(
        choices=PromptVersion.TemplateFormat.choices, default=PromptVersion.TemplateFormat.MUSTACHE
    )
    variables = serializers.JSONField(
        required=False, default=list, help_text="Names of the variables the template uses."
    )
    model_config = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="Model name, temperature, max_tokens, … Absent or null: the parent version's; "
        "{} clears it.",
    )
    message = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Commit message: why this change."
    )


class VersionDiffSerializer(serializers.Serializer):
    prompt = serializers.CharField()
    old = serializers.IntegerField(help_text="The version compared against.")
    new = serializers.IntegerField()
    identical = serializers.BooleanField()
    content = serializers.CharField(help_text="Unified diff of the template or messages.")
    settings = serializers.CharField(help_text="Unified diff of format, variables, model config.")
    diff = serializers.CharField(help_text="Both diffs together.")


class DiffQuerySerializer(serializers.Serializer):
    against = serializers.IntegerField(
        required=False, min_value=1, help_text="Version number to compare with; default parent."
    )


class ResolveQuerySerializer(serializers.Serializer):
    environment = serializers.SlugField(default="production")
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        help_text="Pin a version instead of the deployment.",
    )
    subject = serializers.CharField(
        required=False, max_length=200, help_text="Who the call is for (sticky experiment arms)."
    )


class RenderRequestSerializer(ResolveQuerySerializer):
    variables = serializers.DictField(default=dict, help_text="Variable name → value.")


class IncludedPromptSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    sha256 = serializers.CharField()
    template = serializers.CharField()
    template_format = serializers.CharField()
    variables = serializers.ListField(child=serializers.CharField())


class DeprecationSerializer(serializers.Serializer):
    reason = serializers.CharField()
    deprecated_at = serializers.DateTimeField()
    sunset_at = serializers.DateTimeField(allow_null=True)
    successor = serializers.CharField(allow_null=True)


class ResolvedSerializer(serializers.Serializer):
    """Documentation of what resolve answers (the body is built by prompts.resolve)."""

    prompt = serializers.CharField()
    version = serializers.IntegerField()
    sha256 = serializers.CharField()
    kind = serializers.ChoiceField(choices=Prompt.Kind.choices)
    template = serializers.CharField(allow_null=True)
    messages = MessageSerializer(many=True, allow_null=True)
    template_format = serializers.CharField()
    variables = serializers.ListField(child=serializers.CharField())
    required_variables = serializers.ListField(
        child=serializers.CharField(), help_text="Own variables and those of included prompts."
    )
    model_config = serializers.DictField()
    environment = serializers.CharField()
    state = serializers.CharField()
    includes = serializers.DictField(child=IncludedPromptSerializer())
    experiment = serializers.DictField(allow_null=True)
    deprecation = DeprecationSerializer(allow_null=True)


class RenderedSerializer(ResolvedSerializer):
    rendered = serializers.JSONField(help_text="Text, or the chat messages with variables filled.")


class RetiredProblemSerializer(ProblemSerializer):
    successor = serializers.CharField(
        allow_null=True, help_text="The prompt to use instead (`namespace/name`), if named."
    )


# --- Lifecycle --------------------------------------------------------------------------


class DeprecateSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="Why consumers should move away.")
    sunset_at = serializers.DateTimeField(
        help_text="When the prompt may be retired (in the future); sent as the Sunset header."
    )
    successor = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=127,
        help_text="The prompt to use instead, `namespace/name`: active, readable, no cycle.",
    )


class LifecycleJustificationSerializer(serializers.Serializer):
    justification = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Why. Required to reactivate and to retire before the sunset (staff only).",
    )
