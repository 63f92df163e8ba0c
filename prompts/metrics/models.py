"""Call events, their idempotency keys, the dirty marks of the rollup and the hourly rollup.

`CallEvent` is partitioned by month on PostgreSQL (migration 0001 creates it by hand, primary key
(id, occurred_at)); its prompt, version, environment and experiment are references without
database constraints: the ingest checks each batch against those tables, the rows they point at
are never deleted (PROTECT everywhere), and a constraint would cost a lookup per row on the
hottest insert of the portal.
"""

from django.db import models

from prompts.models import Environment, Experiment, Prompt, PromptVersion


def _ref(model: type[models.Model], **kwargs) -> models.ForeignKey:
    return models.ForeignKey(
        model,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
        **kwargs,
    )


class CallEvent(models.Model):
    """One call of a prompt as a service reported it (POST /api/v1/events/)."""

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    prompt = _ref(Prompt)
    # The version row, not its number: it is what the experiment arms and deployments point
    # at, and the batch check resolves the number to it anyway.
    version = _ref(PromptVersion)
    environment = _ref(Environment)
    experiment = _ref(Experiment, null=True, blank=True)
    arm = models.CharField(max_length=1, blank=True)
    model = models.CharField(max_length=200, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    latency_ms = models.FloatField()
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.FloatField(default=0)
    quality_score = models.FloatField(null=True, blank=True)
    feedback = models.SmallIntegerField(default=0)  # -1, 0 (none), 1
    error = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=100)
    metadata = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["prompt", "environment", "occurred_at"], name="callevent_prompt_env_at"
            ),
            models.Index(fields=["prompt", "occurred_at"], name="callevent_prompt_at"),
            models.Index(
                fields=["experiment", "occurred_at"],
                name="callevent_experiment_at",
                condition=models.Q(experiment__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prompt_id} v{self.version_id} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class EventKey(models.Model):
    """An idempotency key seen for a prompt: the unique index that the partitioned event table
    cannot have (a unique index there must include occurred_at). Pruned with retention: an event
    older than the window is refused anyway, so its key can go."""

    prompt = _ref(Prompt)
    idempotency_key = models.CharField(max_length=100)
    occurred_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prompt", "idempotency_key"], name="event_key_once")
        ]
        indexes = [models.Index(fields=["occurred_at"], name="eventkey_occurred_at")]

    def __str__(self) -> str:
        return f"{self.prompt_id}:{self.idempotency_key}"


class DirtyHour(models.Model):
    """A prompt-hour with events that its rollup rows may not include yet. Each ingest
    transaction appends its own marks (never merged into an existing one), so a mark is visible
    exactly when its events are: a rollup run that takes it recomputes with them."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    marked_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["prompt", "hour"], name="dirty_prompt_hour")]

    def __str__(self) -> str:
        return f"{self.prompt_id} {self.hour:%Y-%m-%d %H}h"


class HourlyRollup(models.Model):
    """The accumulators of one hour's events of one (prompt, version, environment, experiment,
    arm, model): counts, sums, sums of squares and the latency histogram (prompts.metrics.
    histogram; keys are bucket indexes as strings)."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(PromptVersion, on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    experiment = _ref(Experiment, null=True, blank=True)
    arm = models.CharField(max_length=1, blank=True)
    model = models.CharField(max_length=200, blank=True)
    hour = models.DateTimeField()
    count = models.PositiveBigIntegerField()
    latency_sum = models.FloatField()
    latency_sumsq = models.FloatField()
    cost_sum = models.FloatField()
    cost_sumsq = models.FloatField()
    quality_count = models.PositiveBigIntegerField()
    quality_sum = models.FloatField()
    quality_sumsq = models.FloatField()
    feedback_positive = models.PositiveBigIntegerField()
    feedback_negative = models.PositiveBigIntegerField()
    errors = models.PositiveBigIntegerField()
    input_tokens_sum = models.PositiveBigIntegerField()
    output_tokens_sum = models.PositiveBigIntegerField()
    latency_histogram = models.JSONField(default=dict)

    class Meta:
        indexes = [
            models.Index(fields=["prompt", "hour"], name="rollup_prompt_hour"),
            models.Index(fields=["experiment", "hour"], name="rollup_experiment_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.prompt_id} v{self.version_id} {self.hour:%Y-%m-%d %H}h"
