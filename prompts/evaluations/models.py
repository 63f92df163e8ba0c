"""Evaluations: suites of cases per prompt (promptfoo's assertion names and semantics), the
registry of models and their providers, runs of a suite against a version and a model with one
result per case, the teams' model watch lists, and playground calls."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from portal.validators import note_validator
from prompts.models import Prompt, PromptVersion


class Model(models.Model):
    """A model a prompt can run on, and how to reach it. Keys are never stored here: the
    `openai` provider reads them from the environment or settings (`api_key_env` names the
    variable)."""

    class Provider(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible Chat Completions"
        ECHO = "echo", "Offline echo (not a language model)"

    name = models.CharField(max_length=100, unique=True, help_text="e.g. gpt-4o-mini-2024-07-18")
    family = models.CharField(
        max_length=100,
        blank=True,
        help_text="Prompts whose model_config names this family (e.g. gpt-4o-mini) are "
        "re-evaluated when a model of it is released.",
    )
    provider = models.CharField(max_length=16, choices=Provider.choices)
    provider_model_id = models.CharField(max_length=200, blank=True)
    base_url = models.URLField(blank=True, help_text="Empty: the provider's default.")
    api_key_env = models.CharField(
        max_length=100, blank=True, help_text="The environment variable holding the key."
    )
    price_in_per_million = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    price_out_per_million = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    released_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True, validators=[note_validator])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(provider__in=["openai", "echo"]), name="model_provider"
            ),
            models.CheckConstraint(
                condition=Q(price_in_per_million__gte=0, price_out_per_million__gte=0),
                name="model_prices_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_offline_echo(self) -> bool:
        return self.provider == self.Provider.ECHO


class Suite(models.Model):
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="suites")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, validators=[note_validator])
    pass_threshold = models.FloatField(
        default=1.0, help_text="Share of cases that must pass (0–1)."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["prompt", "name"]
        constraints = [
            models.UniqueConstraint(fields=["prompt", "name"], name="suite_name_per_prompt"),
            models.CheckConstraint(
                condition=Q(pass_threshold__gte=0, pass_threshold__lte=1),
                name="suite_pass_threshold_share",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prompt_id}:{self.name}"


class Case(models.Model):
    """One test: variables, and assertions `[{type, value?, threshold?, weight?}]` with
    promptfoo's types (`not-` prefix negates). `threshold` is the test's own (promptfoo's
    test-level threshold on the weighted score); None: every assertion must pass."""

    suite = models.ForeignKey(Suite, on_delete=models.CASCADE, related_name="cases")
    position = models.PositiveIntegerField()
    description = models.CharField(max_length=500, blank=True)
    variables = models.JSONField(default=dict, blank=True)
    assertions = models.JSONField(default=list, blank=True)
    threshold = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["suite", "position"]
        constraints = [
            models.UniqueConstraint(fields=["suite", "position"], name="case_position_once"),
        ]

    def __str__(self) -> str:
        return f"{self.suite_id}#{self.position}"


class Run(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        ERROR = "error", "Error"
        CANCELLED = "cancelled", "Cancelled"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Started by a person"
        SCHEDULE = "schedule", "Nightly schedule"
        MODEL_RELEASE = "model_release", "A model was released"
        GATE = "gate", "Asked for by a promotion's gate"

    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="evaluation_runs")
    version = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="+")
    suite = models.ForeignKey(Suite, on_delete=models.PROTECT, related_name="runs")
    model = models.ForeignKey(Model, on_delete=models.PROTECT, related_name="runs")
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    passed_cases = models.PositiveIntegerField(default=0)
    pass_rate = models.FloatField(null=True, blank=True)
    pass_threshold = models.FloatField(default=1.0, help_text="The suite's, when the run began.")
    total_cost_usd = models.FloatField(default=0)
    mean_latency_ms = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    state__in=["queued", "running", "passed", "failed", "error", "cancelled"]
                ),
                name="run_state",
            ),
        ]
        indexes = [
            models.Index(fields=["suite", "version", "model", "state"]),
            models.Index(fields=["prompt", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in {"passed", "failed", "error", "cancelled"}


class CaseResult(models.Model):
    """What one case gave in one run. Written once: a re-delivered task finds it there."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="results")
    case = models.ForeignKey(Case, on_delete=models.SET_NULL, null=True, related_name="+")
    position = models.PositiveIntegerField()
    description = models.CharField(max_length=500, blank=True)
    variables = models.JSONField(default=dict)
    rendered = models.TextField(blank=True)
    output = models.TextField(blank=True)
    passed = models.BooleanField(default=False)
    score = models.FloatField(default=0)
    assertions = models.JSONField(
        default=list, help_text="Per assertion: type, value, passed, score, reason."
    )
    latency_ms = models.FloatField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.FloatField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="case_result_once_per_run"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.position} {'pass' if self.passed else 'fail'}"


class WatchedModel(models.Model):
    """A team's watch list: the nightly schedule also runs its production prompts' suites on
    these models."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="+")
    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="watchers")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "model"]
        constraints = [
            models.UniqueConstraint(fields=["team", "model"], name="watched_model_once"),
        ]

    def __str__(self) -> str:
        return f"{self.team_id} watches {self.model_id}"


class PlaygroundCall(models.Model):
    """One playground run through a provider: recorded, visible to the prompt's readers."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(
        PromptVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    model = models.ForeignKey(Model, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    variables = models.JSONField(default=dict)
    rendered = models.TextField()
    output = models.TextField(blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.FloatField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"playground {self.pk} ({self.prompt_id})"
