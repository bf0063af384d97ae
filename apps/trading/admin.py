"""Read-only admin for the trading desk's records: orders, fills and their events are facts
written by the services (and the event rows are append-only); nobody edits them by hand."""

from __future__ import annotations

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import ControlTrip, Fill, Order, OrderEvent, RiskLimitsChange, TradingAccount


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["at", "event", "from_status", "to_status", "source", "actor", "detail"]
    readonly_fields = fields


class FillInline(ReadOnlyInline):
    model = Fill
    fields = ["execution_id", "qty", "price", "fee", "at", "shortfall_decision_bps", "shortfall_arrival_bps"]
    readonly_fields = fields


@admin.register(TradingAccount)
class TradingAccountAdmin(ReadOnlyAdmin):
    list_display = ["name", "broker_kind", "endpoint", "base_currency", "starting_cash", "created_at"]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "client_order_id",
        "account",
        "bar_time",
        "symbol",
        "side",
        "qty",
        "limit_price",
        "status",
        "reason_code",
    ]
    list_filter = ["status", "side", "reason_code", "account"]
    search_fields = ["client_order_id", "broker_order_id", "symbol"]
    date_hierarchy = "bar_time"
    inlines = [FillInline, OrderEventInline]


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = [
        "execution_id",
        "order",
        "symbol",
        "side",
        "qty",
        "price",
        "fee",
        "at",
        "shortfall_arrival_bps",
    ]
    list_filter = ["account", "side"]
    search_fields = ["execution_id", "symbol", "order__client_order_id"]


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "order", "event", "from_status", "to_status", "source", "actor"]
    list_filter = ["event", "source"]
    search_fields = ["order__client_order_id"]


@admin.register(RiskLimitsChange)
class RiskLimitsChangeAdmin(ReadOnlyAdmin):
    list_display = ["at", "account", "version", "changed_by", "reason"]


@admin.register(ControlTrip)
class ControlTripAdmin(ReadOnlyAdmin):
    list_display = ["at", "account", "reason_code", "detail", "order"]
