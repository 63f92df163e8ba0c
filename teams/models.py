from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from portal.validators import SLUG_HELP, SLUG_PATTERN, slug_validator


class Team(models.Model):
    slug = models.CharField(
        max_length=63, unique=True, validators=[slug_validator], help_text=SLUG_HELP
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

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
    description = models.TextField(blank=True)
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.INTERNAL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=Q(slug__regex=SLUG_PATTERN), name="namespace_slug_format"
            ),
            models.CheckConstraint(
                condition=Q(visibility__in=["internal", "private"]), name="namespace_visibility"
            ),
        ]

    def __str__(self) -> str:
        return self.slug
