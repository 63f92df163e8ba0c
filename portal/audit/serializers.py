from rest_framework import serializers

from portal.audit.models import EXPORTED_FIELDS, AuditChainVerification, AuditEntry


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


class AuditBackgroundVerificationSerializer(serializers.ModelSerializer):
    pass_key_ids = serializers.ListField(child=serializers.CharField())
    last_pass_key_ids = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = AuditChainVerification
        fields = [
            "position",
            "pass_started_at",
            "pass_key_ids",
            "checked_at",
            "last_pass_completed_at",
            "last_pass_entries",
            "last_pass_key_ids",
            "failed_seq",
            "failure",
            "failed_at",
        ]
        read_only_fields = fields


class AuditVerificationSerializer(serializers.Serializer):
    ok = serializers.BooleanField(
        help_text="No broken entry: neither among the newest entries nor in the background record."
    )
    entries = serializers.IntegerField(
        source="recent.entries", help_text="How many of the newest entries verified now."
    )
    first_seq = serializers.SerializerMethodField(help_text="The first of them (null: none).")
    last_seq = serializers.IntegerField(source="recent.last_seq")
    key_ids = serializers.ListField(
        source="recent.key_ids",
        child=serializers.CharField(),
        help_text="The ids of the keys that sealed them.",
    )
    first_bad_seq = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(help_text="Why that entry fails (empty when ok).")
    background = AuditBackgroundVerificationSerializer(
        allow_null=True,
        help_text="Celery beat's continuous re-verification of the whole chain (null before "
        "its first run).",
    )

    def get_first_seq(self, status) -> int | None:
        recent = status.recent
        return recent.after_seq + 1 if recent.entries else None
