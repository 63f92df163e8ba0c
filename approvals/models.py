from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from prompts.models import Environment, Experiment, Prompt, PromptVersion
from teams.models import Namespace


class PromotionRequest(ConcurrentTransitionMixin, models.Model):
    """A request to run `version` of `prompt` in `environment`, or (kind `experiment`) to
    split the environment's traffic between versions: `version` is then the first arm that
    is not the control, and `experiment` the split that starts once approved.

    pending → approved → applied, or pending → rejected / cancelled / superseded / expired.
    An environment that needs no approval goes straight from pending to applied.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        APPLIED = "applied", "Applied"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        SUPERSEDED = "superseded", "Superseded"
        EXPIRED = "expired", "Expired"

    class Kind(models.TextChoices):
        PROMOTION = "promotion", "Promotion"
        EXPERIMENT = "experiment", "Experiment"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PROMOTION)
    experiment = models.OneToOneField(
        Experiment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="promotion_request",
        help_text="What an `experiment` request starts once approved.",
    )
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="promotion_requests")
    version = models.ForeignKey(
        PromptVersion, on_delete=models.PROTECT, related_name="promotion_requests"
    )
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="promotion_requests"
    )
    previous_version = models.ForeignKey(
        PromptVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="What the environment ran when the request was made.",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="promotion_requests"
    )
    justification = models.TextField()
    required_approvals = models.PositiveSmallIntegerField()
    override = models.BooleanField(
        default=False, help_text="Staff skipped the order of environments."
    )
    state = FSMField(default=State.PENDING, choices=State.choices, protected=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    then_environment = models.ForeignKey(
        Environment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Where the requester wants the version in the end (a later environment): "
        "once this request applies, the next step toward it is requested in their name.",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "environment"],
                condition=Q(state="pending"),
                name="one_pending_request_per_prompt_environment",
            ),
            models.CheckConstraint(
                condition=Q(kind="promotion", experiment__isnull=True)
                | Q(kind="experiment", experiment__isnull=False),
                name="promotion_request_kind",
            ),
        ]
        indexes = [models.Index(fields=["state", "environment"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.prompt_id}@{self.version_id} → {self.environment_id}"

    @property
    def is_open(self) -> bool:
        return self.state == self.State.PENDING

    def changed_versions(self) -> list[PromptVersion]:
        """The versions this request would put in front of consumers: its version, or every
        arm of its experiment besides the control (from `experiment.arms.all()`, so a prefetch
        serves lists). Their authors never approve it (four-eyes)."""
        if self.kind != self.Kind.EXPERIMENT:
            return [self.version]
        arms = sorted(self.experiment.arms.all(), key=lambda arm: arm.label)
        return [arm.version for arm in arms if not arm.is_control]

    @property
    def author_ids(self) -> set[int]:
        return {version.author_id for version in self.changed_versions()}

    @property
    def approval_count(self) -> int:
        """Recorded approvals, counted from `reviews.all()` so a prefetch serves whole lists."""
        return sum(1 for review in self.reviews.all() if review.decision == "approve")

    @transition(field=state, source=State.PENDING, target=State.APPROVED)
    def mark_approved(self) -> None:
        pass

    @transition(field=state, source=[State.PENDING, State.APPROVED], target=State.APPLIED)
    def mark_applied(self) -> None:
        pass

    @transition(field=state, source=State.PENDING, target=State.REJECTED)
    def mark_rejected(self) -> None:
        pass

    @transition(field=state, source=State.PENDING, target=State.CANCELLED)
    def mark_cancelled(self) -> None:
        pass

    @transition(field=state, source=State.PENDING, target=State.SUPERSEDED)
    def mark_superseded(self) -> None:
        pass

    @transition(field=state, source=State.PENDING, target=State.EXPIRED)
    def mark_expired(self) -> None:
        pass


class Review(models.Model):
    class Decision(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"

    request = models.ForeignKey(PromotionRequest, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews"
    )
    decision = models.CharField(max_length=8, choices=Decision.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["request", "reviewer"], name="one_review_per_reviewer"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} {self.decision} #{self.request_id}"


class PromotionScope(models.Model):
    """One namespace in one environment: the object that promotion rights are granted on.

    Holders of its `promote` permission (users, or a team's members group) approve
    promotions into that environment and roll it back. Grants and revocations lock the row
    (after the namespace and its team), so changes of one right serialize.
    """

    namespace = models.ForeignKey(
        Namespace, on_delete=models.CASCADE, related_name="promotion_scopes"
    )
    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="promotion_scopes"
    )

    class Meta:
        default_permissions = ()
        permissions = [("promote", "Approve promotions and roll back")]
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "environment"], name="promotion_scope_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.namespace_id}:{self.environment_id}"
