"""Reads of the simulated venue (what the PaperBroker reports)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, OuterRef, Subquery, Sum

from apps.marketdata.models import Bar, Instrument
from apps.trading.brokers.base import OrderNotFound, OrderSide

from .models import VenueAccount, VenueExecution, VenueOrder, VenuePosition
from .orders import OPEN


def venue_last_closes(*, symbols: list[str], frequency: str, at: dt.datetime) -> dict[str, Decimal | None]:
    """symbol -> close of its latest bar known at `at` (point in time), None when it has none;
    symbols without an instrument are absent. One query: an index lookup per instrument."""
    latest = (
        Bar.objects.filter(instrument=OuterRef("pk"), frequency=frequency, ts__lte=at, known_at__lte=at)
        .order_by("-ts")
        .values("close")[:1]
    )
    return dict(
        Instrument.objects.filter(symbol__in=symbols)
        .annotate(last=Subquery(latest))
        .values_list("symbol", "last")
    )


def venue_reserved_cash(*, venue_account: VenueAccount) -> Decimal:
    """What the open orders hold of the account's cash: the open buys' quantity left x reserve
    price, less the open sells' quantity left x reserve price (their least proceeds: a sell fills
    at or above its limit). Sells fund buys as in the backtest, where a bar's sells fill before
    its buys; the fill itself never lets cash go below zero (services.advance)."""
    rows = dict(
        VenueOrder.objects.filter(account=venue_account, status__in=OPEN)
        .values("side")
        .annotate(total=Sum((F("qty") - F("filled_qty")) * F("reserve_price")))
        .values_list("side", "total")
    )
    return (rows.get(OrderSide.BUY) or Decimal(0)) - (rows.get(OrderSide.SELL) or Decimal(0))


def venue_sellable(*, venue_account: VenueAccount, symbol: str) -> Decimal:
    """The position less what open sells of the symbol already hold."""
    held = VenuePosition.objects.filter(account=venue_account, symbol=symbol).values_list(
        "qty", flat=True
    ).first() or Decimal(0)
    selling = VenueOrder.objects.filter(
        account=venue_account, symbol=symbol, side=OrderSide.SELL, status__in=OPEN
    ).aggregate(left=Sum(F("qty") - F("filled_qty")))["left"]
    return held - (selling or Decimal(0))


def venue_open_orders(*, venue_account: VenueAccount) -> list[VenueOrder]:
    return list(VenueOrder.objects.filter(account=venue_account, status__in=OPEN).order_by("pk"))


def venue_order_by_client_id(*, venue_account: VenueAccount, client_order_id: str) -> VenueOrder:
    try:
        return VenueOrder.objects.get(account=venue_account, client_order_id=client_order_id)
    except VenueOrder.DoesNotExist as exc:
        raise OrderNotFound(f"no order with client_order_id {client_order_id!r}") from exc


def venue_positions(*, venue_account: VenueAccount) -> list[VenuePosition]:
    return list(VenuePosition.objects.filter(account=venue_account, qty__gt=0).order_by("symbol"))


def venue_executions_since(*, venue_account: VenueAccount, since: dt.datetime) -> list[VenueExecution]:
    """Executions reported at or after `since` (a fill is reported at the end of its bar)."""
    return list(
        VenueExecution.objects.filter(account=venue_account, at__gte=since)
        .select_related("order")
        .order_by("at", "pk")
    )


@dataclass(frozen=True)
class VenueBalance:
    cash: Decimal
    equity: Decimal  # cash + positions marked at the last close known at `at` (entry price if none)
    buying_power: Decimal  # cash - what open buys reserve


def venue_balance(*, venue_account: VenueAccount, at: dt.datetime) -> VenueBalance:
    account = VenueAccount.objects.get(pk=venue_account.pk)
    positions = venue_positions(venue_account=account)
    closes = venue_last_closes(symbols=[p.symbol for p in positions], frequency=account.frequency, at=at)
    value = sum((p.qty * (closes.get(p.symbol) or p.avg_entry_price) for p in positions), Decimal(0))
    reserved = venue_reserved_cash(venue_account=account)
    return VenueBalance(cash=account.cash, equity=account.cash + value, buying_power=account.cash - reserved)
