import pgtrigger
from django.db import models
from django.db.models import Q

from portal.errors import Conflict, ErrorCode

GENESIS_HASH = "0" * 64
# An entry's own fields, in the order exports list them.
ENTRY_FIELDS = (
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
# What each entry's seal (HMAC-SHA256, see portal/audit/chain.py) covers: the entry, the id of
# the key that sealed it and the previous entry's seal.
SEALED_FIELDS = (*ENTRY_FIELDS, "key_id", "prev_hash")
EXPORTED_FIELDS = (*SEALED_FIELDS, "hash")


def _append_only() -> Conflict:
    return Conflict("The audit log is append-only.", code=ErrorCode.APPEND_ONLY)


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise _append_only()

    def delete(self):
        raise _append_only()


class AuditEntry(models.Model):
    """One governance-relevant action. Append-only; `hash` seals it and chains it to the previous
    entry: HMAC-SHA256, under the key named `key_id`, of the canonical JSON of SEALED_FIELDS."""

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
    key_id = models.CharField(max_length=32, help_text="The id of the key that sealed it.")
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


class AuditChainVerification(models.Model):
    """A single row: how far Celery beat's continuous re-verification of the chain has got.

    Each run verifies a bounded batch after `position` (the last entry verified in this pass,
    whose hash is `position_hash`); at the end of the chain a pass is complete and the next one
    starts from the first entry. A failure is kept until a later pass completes cleanly."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    position = models.PositiveBigIntegerField(default=0)
    position_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    pass_started_at = models.DateTimeField(null=True, blank=True)
    pass_key_ids = models.JSONField(default=list, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    last_pass_completed_at = models.DateTimeField(null=True, blank=True)
    last_pass_entries = models.PositiveBigIntegerField(default=0)
    last_pass_key_ids = models.JSONField(default=list, blank=True)
    failed_seq = models.PositiveBigIntegerField(null=True, blank=True)
    failure = models.TextField(blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="audit_verification_singleton")
        ]

    def __str__(self) -> str:
        return f"audit chain verified up to #{self.position}"
