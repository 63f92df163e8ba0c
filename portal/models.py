from django.db import models


class OutboxMessage(models.Model):
    """Work owed to Redis once a transaction commits: cache invalidations and Celery tasks.

    Written in the same transaction as the change that owes it, so it is lost only if the
    change is. Drained right after the commit by the process that wrote it and, for whatever
    that could not deliver (Redis away, the process died), by the `portal.drain_outbox`
    beat task."""

    class Kind(models.TextChoices):
        CACHE = "cache", "Cache invalidation"
        TASK = "task", "Celery task"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["cache", "task"]), name="outbox_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"
