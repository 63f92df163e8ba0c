"""Notifications: a person's inbox, their e-mail preferences, a team's webhooks, and the record
of everything sent (`Delivery`: who or which webhook was told what, when, by which channel)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from teams.models import Team


class Notification(models.Model):
    """One inbox entry of one person."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    event = models.CharField(max_length=64)  # events.EVENTS; no choices: no migration per event
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["user"], condition=Q(read_at__isnull=True), name="notification_unread"
            ),
            models.Index(fields=["user", "-created_at"], name="notification_user_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.event} for {self.user}: {self.subject}"


class Preference(models.Model):
    """A person's choice for one event type. No row: e-mail is on."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    event = models.CharField(max_length=64)  # events.EVENTS; no choices: no migration per event
    email = models.BooleanField(default=True)

    class Meta:
        ordering = ["user", "event"]
        constraints = [
            models.UniqueConstraint(fields=["user", "event"], name="preference_once_per_event"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.event}: e-mail {'on' if self.email else 'off'}"


class Webhook(models.Model):
    """A team's receiver. The secret is stored in plain text: HMAC signing needs it (a hash
    cannot sign). It is shown once, at creation, and never returned by the API again; the
    database and its backups must be guarded like the SECRET_KEY."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, blank=True)  # empty: every event
    secret = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "pk"]

    def __str__(self) -> str:
        return f"{self.team} → {self.url}"

    def wants(self, event: str) -> bool:
        return not self.events or event in self.events


class Delivery(models.Model):
    """What one channel sent (or tried to) about one event: to a person (inbox, e-mail) or a
    webhook. The answer to "were we told?"."""

    class Channel(models.TextChoices):
        INBOX = "inbox", "Inbox"
        EMAIL = "email", "E-mail"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    event = models.CharField(max_length=64)  # events.EVENTS; no choices: no migration per event
    subject = models.CharField(max_length=200)
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notification_deliveries",
    )
    webhook = models.ForeignKey(
        Webhook, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    notification = models.ForeignKey(
        Notification, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    target = models.CharField(max_length=500, blank=True)  # the address or URL used
    payload = models.JSONField(default=dict, blank=True)  # the webhook body, as sent
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["team", "-created_at"], name="delivery_team_newest")]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=["inbox", "email", "webhook"]), name="delivery_channel"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sent", "failed", "skipped"]),
                name="delivery_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.event} to {self.target or self.user_id}: {self.status}"


class WebhookAttempt(models.Model):
    """One HTTP try of a webhook delivery: the delivery log owners read."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="tries")
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    ok = models.BooleanField(default=False)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["webhook", "-at"], name="attempt_webhook_newest")]

    def __str__(self) -> str:
        return f"try {self.number} of {self.delivery_id}: {self.status_code or self.error}"
