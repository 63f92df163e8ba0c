import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from portal.errors import Conflict
from prompts.models import Environment, Prompt, PromptVersion


class PromotionRequest(ConcurrentTransitionMixin, models.Model):
    """A request to run `version` of `prompt` in `environment`.

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

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "environment"],
                condition=Q(state="pending"),
                name="one_pending_request_per_prompt_environment",
            ),
        ]
        indexes = [models.Index(fields=["state", "environment"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.prompt_id}@{self.version_id} → {self.environment_id}"

    @property
    def is_open(self) -> bool:
        return self.state == self.State.PENDING

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


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise Conflict("The audit log is append-only.", code="append_only")

    def delete(self):
        raise Conflict("The audit log is append-only.", code="append_only")


class AuditEntry(models.Model):
    """One governance-relevant action. Append-only; `hash` chains every entry to the previous.

    hash = sha256(prev_hash + canonical JSON of the entry's other fields)."""

    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=200, help_text="Username, service token or 'system'.")
    actor_type = models.CharField(max_length=16)
    token_prefix = models.CharField(max_length=16, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=200)
    namespace = models.CharField(max_length=63, blank=True, db_index=True)
    justification = models.TextField(blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    client_ip = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["actor", "at"])]
        triggers = [
            pgtrigger.Protect(
                name="audit_entry_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise Conflict("The audit log is append-only.", code="append_only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise Conflict("The audit log is append-only.", code="append_only")


class AuditChainHead(models.Model):
    """A single row: the last sequence number and hash. Locking it serializes appends, so the
    chain never forks."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="audit_head_singleton")]

    def __str__(self) -> str:
        return f"audit head at #{self.seq}"
