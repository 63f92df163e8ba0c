from rest_framework import serializers

from portal.audit.models import EXPORTED_FIELDS, AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = list(EXPORTED_FIELDS)
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
