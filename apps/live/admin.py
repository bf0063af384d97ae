"""Read-only admin for the live desk's records: the hourly cycles with their events, the
reconciliations, and the kill switches with their events and FLAT reports. All are written by the
services (event rows append-only); the admin shows them (the demo's "where to watch")."""

from __future__ import annotations

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import CycleEvent, CycleRun, FlatReport, KillSwitch, KillSwitchEvent, Reconciliation


class CycleEventInline(ReadOnlyInline):
    model = CycleEvent
    fields = ["at", "event", "from_status", "to_status", "worker", "detail"]
    readonly_fields = fields


@admin.register(CycleRun)
class CycleRunAdmin(ReadOnlyAdmin):
    list_display = ["bar_time", "account", "status", "step", "trigger", "attempts", "model_version", "reason"]
    list_filter = ["status", "account", "trigger"]
    date_hierarchy = "bar_time"
    inlines = [CycleEventInline]


@admin.register(Reconciliation)
class ReconciliationAdmin(ReadOnlyAdmin):
    list_display = ["at", "account", "trigger", "ok", "recovered_fills", "resolved_orders", "detail"]
    list_filter = ["ok", "account", "trigger"]


class KillSwitchEventInline(ReadOnlyInline):
    model = KillSwitchEvent
    fields = ["at", "event", "from_state", "to_state", "actor", "reason"]
    readonly_fields = fields


@admin.register(KillSwitch)
class KillSwitchAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "state", "reason", "changed_at"]
    inlines = [KillSwitchEventInline]


@admin.register(FlatReport)
class FlatReportAdmin(ReadOnlyAdmin):
    list_display = ["at", "switch", "actor", "flat", "reason"]
