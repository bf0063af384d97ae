"""Orders, fills, the append-only order event log and the kill-switch trips raised by controls.

Order status changes only through `apps.trading.orders.ORDER_MACHINE` (services.orders), each one
with an OrderEvent row in the same transaction. A refusal by the pre-trade controls is an order
row in `rejected` with its `reason_code` (event `deny`): refusals sit next to the orders of the
same cycle (`bar_time`), are counted by reason with one query, and the deterministic client order
id means a retried cycle finds the refusal instead of creating a second order.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.statemachine import AppendOnlyModel
from apps.trading.brokers.base import OrderSide, OrderStatus, OrderType, TimeInForce
from apps.trading.orders import CLIENT_ORDER_ID_MAX

from .accounts import TradingAccount

_MONEY = {"max_digits": 18, "decimal_places": 6}
_QTY = {"max_digits": 18, "decimal_places": 6}


def _choices(enum) -> list[tuple[str, str]]:
    return [(m.value, m.value) for m in enum]


class Order(models.Model):
    account = models.ForeignKey(TradingAccount, on_delete=models.PROTECT, related_name="orders")
    # Null only for orders no model decided (the kill switch's closing orders).
    model_version = models.ForeignKey(
        "strategies.ModelVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    bar_time = models.DateTimeField()  # the cycle's bar (end, UTC); part of the client order id
    # The cycle run that produced it (null: orders no cycle made, e.g. the kill switch's).
    cycle = models.ForeignKey(
        "live.CycleRun", on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=4, choices=_choices(OrderSide))
    qty = models.DecimalField(**_QTY)
    requested_type = models.CharField(max_length=8, choices=_choices(OrderType))  # as decided
    type = models.CharField(max_length=8, choices=_choices(OrderType))  # as sent (market -> limit)
    limit_price = models.DecimalField(**_MONEY, null=True, blank=True)
    time_in_force = models.CharField(max_length=4, choices=_choices(TimeInForce), default=TimeInForce.DAY)
    status = models.CharField(
        max_length=16, choices=_choices(OrderStatus), default=OrderStatus.PENDING_NEW, db_index=True
    )
    client_order_id = models.CharField(max_length=CLIENT_ORDER_ID_MAX, unique=True)
    broker_order_id = models.CharField(max_length=64, blank=True, db_index=True)
    reason_code = models.CharField(max_length=32, blank=True, db_index=True)  # why refused / rejected
    reason_detail = models.TextField(blank=True)
    decision_price = models.DecimalField(**_MONEY, null=True, blank=True)  # the price the kernel saw
    arrival_price = models.DecimalField(**_MONEY, null=True, blank=True)  # market price when sent
    # Lineage: what exactly produced this order.
    config_sha256 = models.CharField(max_length=64, blank=True)
    data_hash = models.CharField(max_length=64, blank=True)
    decision_time = models.DateTimeField(null=True, blank=True)
    limits_version = models.PositiveIntegerField(null=True, blank=True)  # RiskLimits.version checked
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-bar_time", "account_id", "symbol"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "bar_time", "symbol", "side"], name="order_one_per_cycle_symbol_side"
            ),
            models.CheckConstraint(condition=Q(qty__gt=0), name="order_qty_positive"),
            models.CheckConstraint(
                condition=Q(limit_price__isnull=True) | Q(limit_price__gt=0),
                name="order_limit_price_positive",
            ),
            models.CheckConstraint(
                condition=Q(side__in=[s.value for s in OrderSide]), name="order_side_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in OrderStatus]), name="order_status_valid"
            ),
            # What is sent is always a limit order (market orders get a protective limit).
            models.CheckConstraint(
                condition=~Q(type=OrderType.LIMIT) | Q(limit_price__isnull=False),
                name="order_limit_has_price",
            ),
        ]
        indexes = [models.Index(fields=["account", "status"], name="order_account_status")]

    def __str__(self) -> str:
        return f"{self.client_order_id} {self.side} {self.qty} {self.symbol} [{self.status}]"


class Fill(AppendOnlyModel):
    """One execution, unique per account by the broker's execution id (recording it again is a
    no-op). Fills are facts: never updated, never deleted (append-only)."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills")
    account = models.ForeignKey(
        TradingAccount, on_delete=models.PROTECT, related_name="fills"
    )  # = order.account
    execution_id = models.CharField(max_length=64)
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=4, choices=_choices(OrderSide))
    qty = models.DecimalField(**_QTY)
    price = models.DecimalField(**_MONEY)
    fee = models.DecimalField(**_MONEY, default=0)
    at = models.DateTimeField()  # execution time (the broker's)
    recorded_at = models.DateTimeField(auto_now_add=True)
    # Implementation shortfall in basis points, positive = cost: buys (price - ref) / ref,
    # sells (ref - price) / ref; null when the order has no such reference price.
    shortfall_decision_bps = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    shortfall_arrival_bps = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "execution_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "execution_id"], name="fill_unique_execution_per_account"
            ),
            models.CheckConstraint(condition=Q(qty__gt=0), name="fill_qty_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="fill_price_positive"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="fill_fee_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.execution_id}: {self.side} {self.qty} {self.symbol} @ {self.price}"


class OrderEvent(AppendOnlyModel):
    """Every transition of an order (and every anomaly met on the way): who or what, when, the
    broker's payload."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    event = models.CharField(max_length=32)  # a table event ("submit", "fill", ...), "create" or "anomaly"
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=64)  # "controls", "broker:alpaca", "cycle", "user", ...
    at = models.DateTimeField(auto_now_add=True)
    detail = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["order_id", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.event} {self.from_status}->{self.to_status}"


class ControlTrip(AppendOnlyModel):
    """A control that says "trip the kill switch" (rejection streak, intraday loss). Recorded when
    it fires; the kill switch (next session) reads the unhandled ones and stops the account."""

    account = models.ForeignKey(TradingAccount, on_delete=models.PROTECT, related_name="control_trips")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reason_code = models.CharField(max_length=32)
    detail = models.TextField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.account.name}: {self.reason_code} at {self.at:%Y-%m-%d %H:%M}"
