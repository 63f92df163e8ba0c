from rest_framework import serializers

from teams.notifications.events import EVENTS
from teams.notifications.models import Delivery, Notification, Webhook, WebhookAttempt

EVENT_CHOICES = [name for name, _ in EVENTS]
# Output fields name the event as text (the one enum is the `events` a webhook subscribes to).
EVENT_HELP = "One of: " + ", ".join(EVENT_CHOICES) + " (later versions may add events)."


class NotificationSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    event = serializers.CharField(read_only=True, help_text=EVENT_HELP)
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "event", "subject", "body", "url", "team", "data", "created_at", "read_at"]
        fields += ["read"]
        read_only_fields = fields

    def get_read(self, notification: Notification) -> bool:
        return notification.read_at is not None


class NotificationQuerySerializer(serializers.Serializer):
    unread = serializers.BooleanField(required=False, allow_null=True, default=None)


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField()


class PreferencesSerializer(serializers.Serializer):
    email = serializers.DictField(
        child=serializers.BooleanField(),
        help_text="E-mail on (true) or off (false) per event type; events not named keep theirs.",
    )

    def validate_email(self, value: dict) -> dict:
        unknown = sorted(set(value) - set(EVENT_CHOICES))
        if unknown:
            raise serializers.ValidationError(f"Unknown events: {', '.join(unknown)}.")
        return value


class WebhookSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES))

    class Meta:
        model = Webhook
        fields = ["id", "team", "url", "events", "is_active", "consecutive_failures"]
        fields += ["disabled_at", "disabled_reason", "created_at"]
        read_only_fields = fields


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret, shown this once (never returned again)."
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES),
        required=False,
        default=list,
        max_length=len(EVENT_CHOICES),
        help_text="The events to send; empty: all of them.",
    )
    secret = serializers.CharField(
        required=False,
        min_length=16,
        max_length=200,
        help_text="The HMAC signing secret; generated when left out.",
    )


class WebhookUpdateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES),
        required=False,
        max_length=len(EVENT_CHOICES),
    )
    secret = serializers.CharField(required=False, min_length=16, max_length=200)
    is_active = serializers.BooleanField(required=False)


class WebhookAttemptSerializer(serializers.ModelSerializer):
    delivery = serializers.UUIDField(source="delivery.uuid", read_only=True)
    event = serializers.CharField(source="delivery.event", read_only=True)

    class Meta:
        model = WebhookAttempt
        fields = ["id", "delivery", "event", "number", "status_code", "duration_ms", "error"]
        fields += ["ok", "at"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    webhook = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    event = serializers.CharField(read_only=True, help_text=EVENT_HELP)

    class Meta:
        model = Delivery
        fields = ["id", "uuid", "channel", "status", "event", "subject", "user", "webhook"]
        fields += ["target", "attempts", "last_error", "created_at", "sent_at"]
        read_only_fields = fields


class DeliveryQuerySerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Delivery.Channel.choices, required=False)
