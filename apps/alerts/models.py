"""Alerts, their append-only event log, and the delivery of each alert over each channel with an
append-only record of every attempt.

An alert's status changes only through `apps.alerts.states.ALERT_MACHINE` (open -> acknowledged ->
resolved, open -> resolved), a delivery's through `DELIVERY_MACHINE` (pending -> delivered | failed).
At most one unresolved alert per dedup key (a partial unique constraint): raising the same key
again bumps its `count` and `last_seen` instead of creating a second alert.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.statemachine import AppendOnlyModel


class AlertKind(models.TextChoices):
    KILL_SWITCH = "kill_switch", "kill switch change"
    RECONCILIATION_BREAK = "reconciliation_break", "reconciliation break"
    CIRCUIT_BREAKER = "circuit_breaker", "circuit breaker"
    CYCLE_FAILED = "cycle_failed", "failed cycle"
    CYCLE_MISSED = "cycle_missed", "missed cycle"
    STALE_DATA = "stale_data", "stale data"
    BROKER_DISCONNECTED = "broker_disconnected", "broker disconnect"


class Severity(models.TextChoices):
    INFO = "info", "info"
    WARNING = "warning", "warning"
    CRITICAL = "critical", "critical"


# Severity order (an alert repeated at a lower severity keeps the higher; pages list critical first).
SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class AlertStatus(models.TextChoices):
    OPEN = "open", "open"
    ACKNOWLEDGED = "acknowledged", "acknowledged"
    RESOLVED = "resolved", "resolved"


UNRESOLVED = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
DEDUP_KEY_MAX = 200


class Alert(models.Model):
    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    account = models.ForeignKey(
        "trading.TradingAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="alerts"
    )
    message = models.TextField()
    details = models.JSONField(
        default=dict, blank=True, encoder=DjangoJSONEncoder
    )  # Decimal, datetime -> str
    dedup_key = models.CharField(max_length=DEDUP_KEY_MAX, blank=True)  # "": never deduplicated
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    count = models.PositiveIntegerField(default=1)  # raises folded into this alert (dedup)
    raised_at = models.DateTimeField()
    last_seen = models.DateTimeField()
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)  # the resolver's reason

    class Meta:
        ordering = ["-raised_at", "-pk"]
        permissions = [
            ("acknowledge_alert", "Can acknowledge an alert"),
            ("resolve_alert", "Can resolve an alert"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=AlertKind.values), name="alert_kind_valid"),
            models.CheckConstraint(condition=Q(severity__in=Severity.values), name="alert_severity_valid"),
            models.CheckConstraint(condition=Q(status__in=AlertStatus.values), name="alert_status_valid"),
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=Q(status__in=UNRESOLVED) & ~Q(dedup_key=""),
                name="alert_one_unresolved_per_dedup_key",
            ),
        ]
        indexes = [models.Index(fields=["status", "-raised_at"], name="alert_status_raised")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.severity} {self.kind}: {self.message[:60]}"


class AlertEvent(AppendOnlyModel):
    """Every change of an alert: its raise and each transition (who, when, why)."""

    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, related_name="events")
    event = models.CharField(max_length=16)  # "raise" or a table event ("acknowledge", "resolve")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )  # None: the desk itself
    at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["alert_id", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.alert_id}: {self.event} {self.from_status}->{self.to_status}"


class Channel(models.TextChoices):
    """Channels that deliver through a task (the log is written on commit, with no delivery row)."""

    EMAIL = "email", "email"
    WEBHOOK = "webhook", "webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "pending"
    DELIVERED = "delivered", "delivered"
    FAILED = "failed", "failed (gave up)"


class AlertDelivery(models.Model):
    """One alert over one channel. `attempts` counts attempts claimed (a conditional update before
    each send, so two copies of the task never send the same attempt twice)."""

    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, related_name="deliveries")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When the next attempt is due (creation, then each failure + its backoff): a task message that
    # arrives well before it is a duplicate and is dropped; the sweep re-sends overdue ones.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["alert_id", "channel"]
        verbose_name_plural = "alert deliveries"
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=Channel.values), name="alertdelivery_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="alertdelivery_status_valid"
            ),
            models.UniqueConstraint(fields=["alert", "channel"], name="alertdelivery_one_per_channel"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="alertdelivery_due")]

    def __str__(self) -> str:
        return f"alert {self.alert_id} via {self.channel}: {self.status} ({self.attempts} attempts)"


class DeliveryAttempt(AppendOnlyModel):
    """The outcome of one attempt of a delivery (number 1, 2, ...)."""

    delivery = models.ForeignKey(AlertDelivery, on_delete=models.PROTECT, related_name="attempt_rows")
    number = models.PositiveIntegerField()
    ok = models.BooleanField()
    http_status = models.PositiveIntegerField(null=True, blank=True)  # webhook answers only
    error = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["delivery_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="deliveryattempt_unique_number")
        ]

    def __str__(self) -> str:
        return f"delivery {self.delivery_id} attempt {self.number}: {'ok' if self.ok else 'failed'}"
