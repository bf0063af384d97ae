"""The simulated venue's own books, in the database so they survive restarts.

These rows are the VENUE's state (what a broker would hold on its side), not the desk's: the
desk's orders and fills live in apps.trading and are reconciled against what the venue reports
through `apps.trading.brokers.paper.PaperBroker`. Quantities, prices and cash are Decimal.
"""

from __future__ import annotations

import uuid

from django.db import models

from apps.core.statemachine import AppendOnlyModel
from apps.marketdata.models import Frequency
from apps.marketdata.symbols import SYMBOL_MAX_LEN
from apps.trading.brokers.base import OrderSide, OrderType, TimeInForce

from .orders import VenueStatus

CLIENT_ORDER_ID_MAX_LEN = 48  # Alpaca's limit, kept so paper and live accept the same ids

SIDES = [(s.value, s.value) for s in OrderSide]
TYPES = [(t.value, t.value) for t in OrderType]
TIFS = [(t.value, t.value) for t in TimeInForce]


def _money(**kw) -> models.DecimalField:
    return models.DecimalField(max_digits=20, decimal_places=6, **kw)


class VenueAccount(models.Model):
    """A cash account at the simulated venue. `fill_config` holds the engine settings the venue
    fills with (participation, integer_shares, sigma_window and the cost model's fields: the
    names of workers.engine BacktestConfig / CostModel), built back into those objects by
    `apps.paper.fills.fill_settings`, so paper and backtest run one cost model."""

    name = models.CharField(max_length=100, unique=True)
    currency = models.CharField(max_length=3, default="USD")
    cash = _money()
    frequency = models.CharField(max_length=2, choices=Frequency.choices, default=Frequency.HOUR)
    fill_config = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(cash__gte=0), name="paper_cash_not_negative")
        ]

    def __str__(self) -> str:
        return self.name


class VenueOrder(models.Model):
    account = models.ForeignKey(VenueAccount, on_delete=models.PROTECT, related_name="orders")
    venue_order_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    client_order_id = models.CharField(max_length=CLIENT_ORDER_ID_MAX_LEN)
    symbol = models.CharField(max_length=SYMBOL_MAX_LEN)
    side = models.CharField(max_length=4, choices=SIDES)
    qty = models.DecimalField(max_digits=18, decimal_places=6)
    type = models.CharField(max_length=6, choices=TYPES)
    time_in_force = models.CharField(max_length=3, choices=TIFS)
    limit_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    # The price buying power was reserved at (limit price, or the last known close for a market
    # order): open buys hold qty_left x this price of the account's cash.
    reserve_price = models.DecimalField(max_digits=18, decimal_places=6)
    status = models.CharField(max_length=16, choices=[(s.value, s.value) for s in VenueStatus])
    filled_qty = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    filled_avg_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    submitted_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)  # day orders: the session close
    # The end of the last bar this order was offered to: the cursor that makes advancing idempotent.
    last_bar_ts = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "client_order_id"], name="paper_order_unique_client_id"
            ),
            models.CheckConstraint(condition=models.Q(qty__gt=0), name="paper_order_qty_positive"),
            models.CheckConstraint(
                condition=models.Q(filled_qty__gte=0, filled_qty__lte=models.F("qty")),
                name="paper_order_filled_within_qty",
            ),
        ]
        indexes = [models.Index(fields=["account", "status"], name="paper_order_account_status")]

    def __str__(self) -> str:
        return f"{self.client_order_id} {self.side} {self.qty} {self.symbol} ({self.status})"

    @property
    def qty_left(self):
        return self.qty - self.filled_qty


class VenueOrderEvent(AppendOnlyModel):
    """Append-only history of every venue order transition (the venue's own audit trail)."""

    order = models.ForeignKey(VenueOrder, on_delete=models.PROTECT, related_name="events")
    event = models.CharField(max_length=16)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["pk"]


class VenueExecution(AppendOnlyModel):
    """One fill. `execution_id` is derived from the order and the bar that priced it, so one bar
    can never fill one order twice (the unique constraint refuses it even in a race)."""

    account = models.ForeignKey(VenueAccount, on_delete=models.PROTECT, related_name="executions")
    order = models.ForeignKey(VenueOrder, on_delete=models.PROTECT, related_name="executions")
    execution_id = models.CharField(max_length=64, unique=True)
    symbol = models.CharField(max_length=SYMBOL_MAX_LEN)
    side = models.CharField(max_length=4, choices=SIDES)
    qty = models.DecimalField(max_digits=18, decimal_places=6)
    price = models.DecimalField(max_digits=18, decimal_places=6)  # the bar's open
    fee = _money()  # the engine cost model's total (slippage + spread + impact + commission)
    bar_ts = models.DateTimeField()  # end of the bar whose open priced the fill
    at = models.DateTimeField()  # when the venue reports it: the bar's end

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(qty__gt=0), name="paper_execution_qty_positive")
        ]
        indexes = [models.Index(fields=["account", "at"], name="paper_execution_account_at")]


class VenuePosition(models.Model):
    """Net long position per symbol, kept equal to the sum of executions (tested)."""

    account = models.ForeignKey(VenueAccount, on_delete=models.PROTECT, related_name="positions")
    symbol = models.CharField(max_length=SYMBOL_MAX_LEN)
    qty = models.DecimalField(max_digits=18, decimal_places=6)
    avg_entry_price = models.DecimalField(max_digits=18, decimal_places=6)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "symbol"], name="paper_position_unique_symbol"),
            models.CheckConstraint(condition=models.Q(qty__gte=0), name="paper_position_long_only"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.qty} @ {self.avg_entry_price}"
