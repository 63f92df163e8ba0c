"""Shapes of the suites API (thin: the services check the rules)."""

from rest_framework import serializers

from prompts.evaluations.models import Case, Suite
from prompts.evaluations.promptfoo import FORMATS


class CaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Case
        fields = ["id", "position", "description", "variables", "assertions", "threshold"]
        read_only_fields = fields


class CaseInputSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, default="")
    variables = serializers.JSONField(required=False, default=dict)
    assertions = serializers.JSONField(
        required=False,
        default=list,
        help_text="[{type, value?, threshold?, weight?}] with promptfoo's types; `not-` negates.",
    )
    threshold = serializers.FloatField(
        required=False, allow_null=True, default=None, help_text="The weighted score to pass."
    )


class SuiteSerializer(serializers.ModelSerializer):
    prompt = serializers.CharField(source="prompt.full_name", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    case_count = serializers.IntegerField(read_only=True, default=None)

    class Meta:
        model = Suite
        fields = [
            "id",
            "prompt",
            "name",
            "description",
            "pass_threshold",
            "case_count",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SuiteDetailSerializer(SuiteSerializer):
    cases = CaseSerializer(many=True, read_only=True)

    class Meta(SuiteSerializer.Meta):
        fields = [*SuiteSerializer.Meta.fields, "cases"]
        read_only_fields = fields


class SuiteCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    pass_threshold = serializers.FloatField(
        required=False, default=1.0, help_text="Share of cases that must pass (0–1)."
    )
    cases = CaseInputSerializer(many=True, required=False, default=list)


class SuiteUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    pass_threshold = serializers.FloatField(required=False)


class SuiteImportSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    format = serializers.ChoiceField(choices=FORMATS)
    content = serializers.CharField(trim_whitespace=False, help_text="The file's text.")


class ImportWarningSerializer(serializers.Serializer):
    case = serializers.IntegerField(help_text="The case's position.")
    warnings = serializers.ListField(child=serializers.CharField())


class SuiteImportResultSerializer(serializers.Serializer):
    suite = SuiteDetailSerializer()
    warnings = ImportWarningSerializer(many=True)


class ExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=FORMATS, default="promptfoo")
