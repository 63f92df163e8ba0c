"""Serializers of the model registry and the watch lists."""

from rest_framework import serializers

from prompts.evaluations.models import Model, WatchedModel
from prompts.evaluations.registry import MODEL_FIELDS

OFFLINE_ECHO_LABEL = "offline echo, not a language model"
PRICE = {"max_digits": 12, "decimal_places": 6, "min_value": 0, "coerce_to_string": False}


class ModelSerializer(serializers.ModelSerializer):
    price_in_per_million = serializers.DecimalField(**PRICE, read_only=True)
    price_out_per_million = serializers.DecimalField(**PRICE, read_only=True)
    is_offline_echo = serializers.BooleanField(read_only=True)
    label = serializers.SerializerMethodField()
    # Empty (the provider's default) is no URI: the answer is plain text, not format uri.
    base_url = serializers.CharField(read_only=True, help_text="Empty: the provider's default.")

    class Meta:
        model = Model
        fields = [
            "name",
            *MODEL_FIELDS,
            "is_offline_echo",
            "label",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_label(self, model: Model) -> str:
        return OFFLINE_ECHO_LABEL if model.is_offline_echo else ""


class ModelUpdateSerializer(serializers.ModelSerializer):
    """What staff may change; the name is the model's identity and stays."""

    price_in_per_million = serializers.DecimalField(**PRICE, required=False)
    price_out_per_million = serializers.DecimalField(**PRICE, required=False)

    class Meta:
        model = Model
        fields = list(MODEL_FIELDS)
        extra_kwargs = {field: {"required": False} for field in fields}


class ModelCreateSerializer(ModelUpdateSerializer):
    class Meta(ModelUpdateSerializer.Meta):
        fields = ["name", *MODEL_FIELDS]
        # Uniqueness is the service's (409 already_exists), not a validation error.
        extra_kwargs = {
            **{field: {"required": False} for field in MODEL_FIELDS},
            "name": {"validators": []},
            "provider": {"required": True},
        }


class WatchedModelSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name", read_only=True)
    is_offline_echo = serializers.BooleanField(source="model.is_offline_echo", read_only=True)
    team = serializers.CharField(source="team.slug", read_only=True)

    class Meta:
        model = WatchedModel
        fields = ["team", "model", "is_offline_echo", "added_at"]
        read_only_fields = fields


class WatchedModelCreateSerializer(serializers.Serializer):
    model = serializers.CharField(max_length=100, help_text="A registered model's name.")
