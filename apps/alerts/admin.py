"""Read-only admin for alerts and their deliveries: they change only through the services (the
page or the desk itself), and the event and attempt rows are append-only."""

from __future__ import annotations

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import Alert, AlertDelivery, AlertEvent, DeliveryAttempt


class AlertEventInline(ReadOnlyInline):
    model = AlertEvent
    fields = readonly_fields = ["at", "event", "from_status", "to_status", "actor", "reason"]


class AlertDeliveryInline(ReadOnlyInline):
    model = AlertDelivery
    fields = readonly_fields = ["channel", "status", "attempts", "next_attempt_at", "finished_at"]
    show_change_link = True


class DeliveryAttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    fields = readonly_fields = ["number", "ok", "http_status", "error", "at"]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "severity",
        "kind",
        "account",
        "message",
        "status",
        "count",
        "raised_at",
        "last_seen",
    ]
    list_filter = ["status", "severity", "kind"]
    search_fields = ["message", "dedup_key"]
    inlines = [AlertEventInline, AlertDeliveryInline]


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["pk", "alert", "channel", "status", "attempts", "next_attempt_at", "finished_at"]
    list_filter = ["status", "channel"]
    inlines = [DeliveryAttemptInline]
