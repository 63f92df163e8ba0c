import datetime as dt
import re

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.audit.permissions import AUDITORS_GROUP
from teams.models import ApiToken, Membership, Namespace, Team
from teams.scopes import SCOPES
from teams.tokens import end_of_day

User = get_user_model()


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = [
            "username",
            "email",
            "first_name",
            "last_name",
            "is_staff",
            "is_active",
            "is_auditor",
            "date_joined",
        ]
        read_only_fields = fields

    # Explicit: a read-only model field loses allow_blank, and "" is no `format: email`.
    email = serializers.EmailField(read_only=True, allow_blank=True)
    is_auditor = serializers.SerializerMethodField()

    def get_is_auditor(self, user) -> bool:
        if hasattr(user, "is_auditor"):  # annotated by teams.selectors.people
            return user.is_auditor
        return user.groups.filter(name=AUDITORS_GROUP).exists()


class UserUpdateSerializer(serializers.Serializer):
    is_active = serializers.BooleanField(
        required=False, help_text="false deactivates: no sign-in, tokens refused, approvals void."
    )
    is_staff = serializers.BooleanField(required=False)
    is_auditor = serializers.BooleanField(
        required=False, help_text="Membership of the auditors group (reads the audit log)."
    )


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    # No default: an empty default is not a valid `format: email` (strict validators say so).
    email = serializers.EmailField(required=False, allow_blank=True)
    password = serializers.CharField(write_only=True, trim_whitespace=False)
    is_staff = serializers.BooleanField(required=False, default=False)


class TokenSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="prefix", read_only=True, help_text="The token's prefix.")
    expires_at = serializers.DateTimeField(
        source="expiry_date", read_only=True, allow_null=True, help_text="null: never expires."
    )
    created_at = serializers.DateTimeField(source="created", read_only=True)
    namespaces = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=list(SCOPES)),
        read_only=True,
        allow_null=True,
        help_text="What the token may do (docs/tokens.md). null: no scopes, the token keeps "
        "what tokens could always do (a personal one all its user may; a service one read and "
        "report events in its namespaces).",
    )

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "prefix",
            "name",
            "kind",
            "created_at",
            "created_by",
            "expires_at",
            "last_used_at",
            "revoked",
            "revoked_at",
            "namespaces",
            "namespace_limited",
            "scopes",
        ]
        read_only_fields = fields


class TokenCreatedSerializer(TokenSerializer):
    token = serializers.CharField(
        read_only=True, help_text="The secret. Shown this once; only its hash is stored."
    )

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


_BARE_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "format": "date"},
            {"type": "string", "format": "date-time"},
        ]
    }
)
class ExpiryField(serializers.DateTimeField):
    """A datetime, or a bare date meaning the end of that day in the portal's time zone.

    The same rule as the portal's token form: `2026-12-31` stops working at midnight after that
    day in TIME_ZONE (UTC unless configured).
    """

    def to_internal_value(self, value):
        if isinstance(value, str) and _BARE_DATE.fullmatch(value.strip()):
            try:
                return end_of_day(dt.date.fromisoformat(value.strip()))
            except ValueError:
                self.fail("invalid", format="YYYY-MM-DD (before 9999-12-31) or ISO 8601")
        return super().to_internal_value(value)


def scopes_field(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=list(SCOPES)),
        required=False,
        allow_null=True,
        default=None,
        help_text=help_text,
    )


class TokenBaseSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    expires_at = ExpiryField(
        required=False,
        allow_null=True,
        default=None,
        help_text="A datetime, or a date (`2026-12-31`): valid through the end of that day in "
        "the portal's time zone (TIME_ZONE, UTC unless configured), as in the portal's form. "
        "null or absent: never expires.",
    )


class TokenCreateSerializer(TokenBaseSerializer):
    scopes = scopes_field(
        "Limit the token to these scopes (docs/tokens.md). `versions:write` never goes with "
        "`promotions:approve` or `rollback` for overlapping namespaces. Absent, null or empty: "
        "the token may do all you may."
    )
    namespaces = serializers.ListField(
        child=serializers.SlugField(),
        required=False,
        default=list,
        help_text="With scopes: the namespaces the token is limited to (every namespace-level "
        "right ends there). Absent or empty: all of yours.",
    )


class ServiceTokenCreateSerializer(TokenBaseSerializer):
    scopes = scopes_field(
        "`read` (read, resolve, render) and/or `events:write` (report call events); no other "
        "scope is grantable to a service token. Absent, null or empty: both."
    )
    namespaces = serializers.ListField(
        child=serializers.SlugField(),
        required=False,
        default=list,
        help_text="More namespaces (that the caller manages) the token may read, "
        "besides the one in the URL.",
    )


class TeamSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True)
    # text, not format: email: a team without a contact answers ""
    contact_email = serializers.CharField(
        read_only=True, help_text="Who to write to about the team's prompts; may be empty."
    )

    class Meta:
        model = Team
        fields = [
            "slug",
            "name",
            "description",
            "contact_email",
            "contact_channel",
            "created_at",
            "member_count",
        ]
        read_only_fields = ["created_at", "member_count", "contact_email", "contact_channel"]


class TeamUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    contact_email = serializers.EmailField(
        required=False, allow_blank=True, help_text="Who to write to about the team's prompts."
    )
    contact_channel = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="E.g. #support-prompts."
    )


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True)
    team = serializers.CharField(source="team.slug", read_only=True)
    joined_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "email", "team", "role", "joined_at"]
        read_only_fields = fields


class MemberCreateSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class NamespaceSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Namespace
        fields = [
            "slug",
            "team",
            "description",
            "visibility",
            "stale_after_days",
            "auto_retire",
            "created_at",
        ]
        read_only_fields = fields


class NamespaceCreateSerializer(serializers.Serializer):
    slug = serializers.CharField(max_length=63)
    team = serializers.CharField(help_text="Slug of the owning team.")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    visibility = serializers.ChoiceField(
        choices=Namespace.Visibility.choices, default=Namespace.Visibility.INTERNAL
    )


class NamespaceUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    visibility = serializers.ChoiceField(choices=Namespace.Visibility.choices, required=False)
    team = serializers.CharField(required=False, help_text="Staff only: move to another team.")
    stale_after_days = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        help_text="A prompt quiet this many days (no version, no deployment) is reported stale.",
    )
    auto_retire = serializers.BooleanField(
        required=False, help_text="Retire deprecated prompts when their sunset passes."
    )
