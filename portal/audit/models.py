import pgtrigger
from django.db import models
from django.db.models import Q

from portal.errors import Conflict, ErrorCode

GENESIS_HASH = "0" * 64
# What each entry's hash covers, in the order exports list them (then prev_hash and hash).
HASHED_FIELDS = (
    "seq",
    "at",
    "actor",
    "actor_type",
    "token_prefix",
    "action",
    "object_type",
    "object_id",
    "namespace",
    "justification",
    "before",
    "after",
    "request_id",
    "client_ip",
)
EXPORTED_FIELDS = (*HASHED_FIELDS, "prev_hash", "hash")


def _append_only() -> Conflict:
    return Conflict("The audit log is append-only.", code=ErrorCode.APPEND_ONLY)


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise _append_only()

    def delete(self):
        raise _append_only()


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
            raise _append_only()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise _append_only()


class AuditChainHead(models.Model):
    """A single row: the last sequence number and hash. Locking it serializes appends, so the
    chain never forks. Every writer takes this lock last (after the rows it changes)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="audit_head_singleton")]

    def __str__(self) -> str:
        return f"audit head at #{self.seq}"
