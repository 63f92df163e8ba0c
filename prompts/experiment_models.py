"""Experiments and their arms (re-exported by prompts.models): an environment's traffic split
between versions of one prompt. The rules and the workflow: prompts/experiments.py."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from portal.validators import note_validator


class Experiment(models.Model):
    """An environment's traffic split between versions of one prompt by weight (an A/B test).

    pending (its promotion request awaits approval) → running → stopped; or pending →
    cancelled when the request is rejected, withdrawn, superseded or expires. While one runs,
    resolve answers each caller one arm (sticky per subject); the environment's deployment
    stays the control's version.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Awaiting approval"
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"
        CANCELLED = "cancelled", "Cancelled"

    class Metric(models.TextChoices):
        QUALITY_SCORE = "quality_score", "Quality score (mean)"
        FEEDBACK = "feedback", "Feedback (positive rate)"
        LATENCY_MS = "latency_ms", "Latency (mean)"
        LATENCY_P95 = "latency_p95", "Latency (p95)"
        COST_USD = "cost_usd", "Cost (mean)"
        ERROR_RATE = "error_rate", "Error rate"

    class StopCause(models.TextChoices):
        MANUAL = "manual", "Stopped by a person"
        GUARDRAIL = "guardrail", "A guardrail was breached"
        DEPLOYMENT = "deployment", "The environment's deployment changed"
        RETIRED = "retired", "The prompt was retired"

    prompt = models.ForeignKey(
        "prompts.Prompt", on_delete=models.PROTECT, related_name="experiments"
    )
    environment = models.ForeignKey(
        "prompts.Environment", on_delete=models.PROTECT, related_name="experiments"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    hypothesis = models.TextField(validators=[note_validator])
    primary_metric = models.CharField(max_length=16, choices=Metric.choices)
    minimum_detectable_effect = models.FloatField(
        null=True,
        blank=True,
        help_text="The smallest difference to the control worth detecting, in the metric's "
        "units; empty: 10 % of the control's value.",
    )
    guardrails = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    stop_cause = models.CharField(max_length=16, choices=StopCause.choices, blank=True)
    stop_reason = models.TextField(blank=True)
    winner = models.ForeignKey(
        "ExperimentArm", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "environment"],
                condition=Q(state="running"),
                name="one_running_experiment_per_prompt_environment",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "running", "stopped", "cancelled"]),
                name="experiment_state",
            ),
            models.CheckConstraint(
                condition=Q(
                    primary_metric__in=[
                        "quality_score",
                        "feedback",
                        "latency_ms",
                        "latency_p95",
                        "cost_usd",
                        "error_rate",
                    ]
                ),
                name="experiment_primary_metric",
            ),
        ]
        indexes = [models.Index(fields=["state"])]

    def __str__(self) -> str:
        return f"experiment {self.pk} ({self.prompt_id}@{self.environment_id}, {self.state})"

    @property
    def is_running(self) -> bool:
        return self.state == self.State.RUNNING


# Arms are labelled A, B, C … in the order given; A is always the control.
ARM_LABELS = "ABCDE"
ARM_CHOICES = [(label, label) for label in ARM_LABELS]  # the API schema's ArmEnum


class ExperimentArm(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="arms")
    label = models.CharField(max_length=1)
    version = models.ForeignKey("prompts.PromptVersion", on_delete=models.PROTECT, related_name="+")
    weight = models.PositiveSmallIntegerField()
    is_control = models.BooleanField(default=False)

    class Meta:
        ordering = ["experiment", "label"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "label"], name="arm_label_once"),
            models.UniqueConstraint(fields=["experiment", "version"], name="arm_version_once"),
            models.UniqueConstraint(
                fields=["experiment"], condition=Q(is_control=True), name="arm_one_control"
            ),
            models.CheckConstraint(
                condition=Q(weight__gte=1, weight__lte=99), name="arm_weight_range"
            ),
            models.CheckConstraint(
                condition=Q(label__in=list(ARM_LABELS)), name="arm_label_letter"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.experiment_id}:{self.label} v{self.version_id} ({self.weight} %)"
