import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from portal.errors import Conflict, ErrorCode
from portal.validators import SLUG_HELP, SLUG_PATTERN, note_validator, slug_validator
from prompts.experiment_models import ARM_CHOICES, ARM_LABELS, Experiment, ExperimentArm  # noqa: F401
from teams.models import Namespace


class Tag(models.Model):
    slug = models.CharField(max_length=63, unique=True, validators=[slug_validator])

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(condition=Q(slug__regex=SLUG_PATTERN), name="tag_slug_format"),
        ]

    def __str__(self) -> str:
        return self.slug


class Prompt(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", "Text template"
        CHAT = "chat", "Chat messages"

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        DEPRECATED = "deprecated", "Deprecated"
        RETIRED = "retired", "Retired"

    namespace = models.ForeignKey(Namespace, on_delete=models.PROTECT, related_name="prompts")
    name = models.CharField(max_length=63, validators=[slug_validator], help_text=SLUG_HELP)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.TEXT)
    description = models.TextField(blank=True, validators=[note_validator])
    tags = models.ManyToManyField(Tag, blank=True, related_name="prompts")
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    deprecated_at = models.DateTimeField(null=True, blank=True)
    deprecation_reason = models.TextField(blank=True)
    sunset_at = models.DateTimeField(
        null=True, blank=True, help_text="When a deprecated prompt stops being served."
    )
    successor = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="predecessors"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(m2m_fields=[tags])

    class Meta:
        ordering = ["namespace__slug", "name"]
        constraints = [
            models.UniqueConstraint(fields=["namespace", "name"], name="prompt_name_per_namespace"),
            models.CheckConstraint(
                condition=Q(name__regex=SLUG_PATTERN), name="prompt_name_format"
            ),
            models.CheckConstraint(condition=Q(kind__in=["text", "chat"]), name="prompt_kind"),
            models.CheckConstraint(
                condition=Q(state__in=["active", "deprecated", "retired"]), name="prompt_state"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.namespace.slug}/{self.name}"


class PromptVersionQuerySet(models.QuerySet):
    """Versions are append-only: bulk updates and deletes are refused like single ones."""

    def update(self, **kwargs):
        raise Conflict(
            "Prompt versions are immutable; create a new version.", code=ErrorCode.IMMUTABLE
        )

    def delete(self):
        raise Conflict("Prompt versions are never deleted.", code=ErrorCode.IMMUTABLE)


class PromptVersion(models.Model):
    class TemplateFormat(models.TextChoices):
        MUSTACHE = "mustache", "Mustache ({{name}} substitution)"
        JINJA2 = "jinja2", "Jinja2 (sandboxed)"

    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    template = models.TextField(blank=True)
    messages = models.JSONField(null=True, blank=True)
    template_format = models.CharField(
        max_length=16, choices=TemplateFormat.choices, default=TemplateFormat.MUSTACHE
    )
    variables = models.JSONField(default=list, blank=True)
    model_config = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="prompt_versions"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sha256 = models.CharField(max_length=64)
    search_text = models.TextField(
        blank=True, editable=False, help_text="The template, or the messages' texts: searched."
    )
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )

    objects = PromptVersionQuerySet.as_manager()

    class Meta:
        ordering = ["prompt", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["prompt", "number"], name="version_number_per_prompt"),
            models.CheckConstraint(condition=Q(number__gte=1), name="version_number_positive"),
            models.CheckConstraint(
                condition=Q(template_format__in=["mustache", "jinja2"]),
                name="version_template_format",
            ),
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="version_sha"
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="prompt_version_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prompt_id}@{self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise Conflict(
                "Prompt versions are immutable; create a new version.", code=ErrorCode.IMMUTABLE
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise Conflict("Prompt versions are never deleted.", code=ErrorCode.IMMUTABLE)


class VersionInclude(models.Model):
    """A version includes another prompt by name: who depends on whom, so that a change of
    the included prompt (its deployment, its namespace's visibility) also invalidates the
    cached answers of the prompts that include it. Written with the version, never changed."""

    version = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="+")
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="+")
    included = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "included"], name="version_include_once"),
        ]
        indexes = [models.Index(fields=["included"])]

    def __str__(self) -> str:
        return f"{self.version_id} includes {self.included_id}"


# What staff configure about an environment (the API, the portal page and the audit entries
# list exactly these; the slug never changes).
ENVIRONMENT_SETTINGS = (
    "name",
    "order",
    "requires_approval",
    "min_approvals",
    "protected",
    "requires_evaluation",
)


class Environment(models.Model):
    slug = models.CharField(
        max_length=63, unique=True, validators=[slug_validator], help_text=SLUG_HELP
    )
    name = models.CharField(max_length=100)
    order = models.PositiveSmallIntegerField(unique=True)
    requires_approval = models.BooleanField(default=False)
    min_approvals = models.PositiveSmallIntegerField(default=0)
    protected = models.BooleanField(
        default=False, help_text="Only staff grant promotion rights for this environment."
    )
    requires_evaluation = models.BooleanField(default=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["order"]
        constraints = [
            models.CheckConstraint(
                condition=Q(slug__regex=SLUG_PATTERN), name="environment_slug_format"
            ),
            models.CheckConstraint(
                condition=Q(requires_approval=False, min_approvals=0)
                | Q(requires_approval=True, min_approvals__gte=1),
                name="environment_approvals_consistent",
                violation_error_message=(
                    "An environment that requires approval needs at least one approval; "
                    "one that does not needs none."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class Deployment(models.Model):
    """Which version of a prompt one environment runs. Exactly one per prompt and environment."""

    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="deployments")
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="deployments"
    )
    version = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="deployments")
    deployed_at = models.DateTimeField()
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["prompt", "environment__order"]
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "environment"], name="deployment_one_per_prompt_environment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prompt_id} {self.environment_id} -> {self.version_id}"


class ResolveCount(models.Model):
    """How often one caller resolved a deprecated prompt in one environment on one day (UTC):
    the day's total as counted in Redis, written by `prompts.tasks.flush_resolve_counts`.
    `token_name` is the service token's name; "" stands for people (session, personal token)."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    token_name = models.CharField(max_length=200, blank=True)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-day", "prompt", "environment", "token_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "environment", "day", "token_name"],
                name="resolve_count_once_per_day",
            ),
        ]
        indexes = [models.Index(fields=["day"])]

    def __str__(self) -> str:
        return f"{self.prompt_id} {self.environment_id} {self.day} {self.token_name}: {self.count}"


class StaleDigest(models.Model):
    """What the last stale-prompt scan found for a team (a fingerprint of its findings), so a
    digest that says nothing new is not sent again."""

    team = models.OneToOneField(
        "teams.Team", on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    fingerprint = models.CharField(max_length=64, blank=True)
    # the identities of the last scan's findings: a digest goes out only when one is new
    keys = models.JSONField(default=list, blank=True)
    findings = models.PositiveIntegerField(default=0)
    scanned_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["team"]

    def __str__(self) -> str:
        return f"{self.team_id}: {self.fingerprint[:12]} ({self.findings})"
