from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from rest_framework_api_key.models import AbstractAPIKey
from simple_history.models import HistoricalRecords

from portal.validators import SLUG_HELP, SLUG_PATTERN, note_validator, slug_validator


class Team(models.Model):
    slug = models.CharField(
        max_length=63, unique=True, validators=[slug_validator], help_text=SLUG_HELP
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, validators=[note_validator])
    contact_email = models.EmailField(
        blank=True, help_text="Who to write to about the team's prompts."
    )
    contact_channel = models.CharField(
        max_length=100, blank=True, help_text="A chat channel, e.g. #support-prompts."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Guardian object permissions on the team's namespaces are granted to these groups;
    # a member sits in the groups of their role and every role below it.
    members_group = models.OneToOneField(
        Group, on_delete=models.PROTECT, null=True, editable=False, related_name="+"
    )
    maintainers_group = models.OneToOneField(
        Group, on_delete=models.PROTECT, null=True, editable=False, related_name="+"
    )
    owners_group = models.OneToOneField(
        Group, on_delete=models.PROTECT, null=True, editable=False, related_name="+"
    )

    history = HistoricalRecords(
        excluded_fields=["members_group", "maintainers_group", "owners_group"]
    )

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(condition=Q(slug__regex=SLUG_PATTERN), name="team_slug_format"),
        ]

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MAINTAINER = "maintainer", "Maintainer"
        VIEWER = "viewer", "Viewer"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["team__slug", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_once_per_team"),
            models.CheckConstraint(
                condition=Q(role__in=["owner", "maintainer", "viewer"]), name="membership_role"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class Namespace(models.Model):
    class Visibility(models.TextChoices):
        INTERNAL = "internal", "Internal (every signed-in user may read)"
        PRIVATE = "private", "Private (team members only)"

    slug = models.CharField(
        max_length=63, unique=True, validators=[slug_validator], help_text=SLUG_HELP
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="namespaces")
    description = models.TextField(blank=True, validators=[note_validator])
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.INTERNAL
    )
    stale_after_days = models.PositiveSmallIntegerField(
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="A prompt with no new version and no deployment change for this many days "
        "is reported as stale.",
    )
    auto_retire = models.BooleanField(
        default=False,
        help_text="Retire deprecated prompts when their sunset passes (else the team is told).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]
        permissions = [
            ("change_prompts", "Create and edit prompts and versions"),
            ("request_promotion", "Request promotions"),
            ("manage_namespace", "Manage the namespace, its service tokens and promotion rights"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(slug__regex=SLUG_PATTERN), name="namespace_slug_format"
            ),
            models.CheckConstraint(
                condition=Q(visibility__in=["internal", "private"]), name="namespace_visibility"
            ),
            models.CheckConstraint(
                condition=Q(stale_after_days__gte=1, stale_after_days__lte=3650),
                name="namespace_stale_after_days_range",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class ApiToken(AbstractAPIKey):
    """A bearer token, stored as a hash with a visible prefix.

    Personal tokens act as their user. Service tokens act for a set of namespaces and may
    only read there. `scopes` (teams.scopes) limit what either may do; null is a token made
    before scopes existed, which keeps what it could do. A personal token with
    `namespace_limited` may act only in its `namespaces`, and in none once they are all gone
    (a service token's are the ones it serves).
    """

    class Kind(models.TextChoices):
        PERSONAL = "personal", "Personal"
        SERVICE = "service", "Service"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
    )
    namespaces = models.ManyToManyField(Namespace, blank=True, related_name="service_tokens")
    scopes = models.JSONField(null=True, blank=True, default=None)
    # Stored, not read from `namespaces` being non-empty: a limited token whose namespaces all
    # disappear must reach nothing, not widen to everything its user may.
    namespace_limited = models.BooleanField(
        default=False, help_text="A personal token that may act only in its namespaces."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API token"
        verbose_name_plural = "API tokens"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="personal", user__isnull=False)
                | Q(kind="service", user__isnull=True),
                name="api_token_kind_owner",
            ),
            models.CheckConstraint(
                condition=Q(namespace_limited=False) | Q(kind="personal"),
                name="api_token_namespace_limit_personal",
            ),
        ]

    @property
    def is_usable(self) -> bool:
        return not self.revoked and not self.has_expired
