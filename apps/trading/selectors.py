"""Reads of the trading desk: effective risk limits, positions and cash derived from fills, the
state the pre-trade controls need, and refusals per cycle."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import Coalesce

from apps.trading.brokers.base import OrderStatus
from apps.trading.controls import AccountState, Limits
from apps.trading.ledger import Book, FillRow, book_from_fills
from apps.trading.models import Fill, Order, RiskLimits, TradingAccount
from apps.trading.orders import OPEN

ZERO = Decimal(0)


def risk_limits_effective(*, account: TradingAccount) -> tuple[Limits, int]:
    """The account's limits (settings defaults overlaid by its overrides) and their version."""
    row = RiskLimits.objects.filter(account=account).first()
    overrides = row.overrides if row else {}
    return Limits.from_mapping({**settings.TRADING_RISK_DEFAULTS, **overrides}), (row.version if row else 0)


def account_book(*, account: TradingAccount) -> Book:
    """Positions (average cost, realised PnL, fees) and cash from every fill of the account."""
    rows = [
        FillRow(f["execution_id"], f["symbol"], f["side"], f["qty"], f["price"], f["fee"], f["at"])
        for f in Fill.objects.filter(account=account).values(
            "execution_id", "symbol", "side", "qty", "price", "fee", "at"
        )
    ]
    return book_from_fills(rows, starting_cash=account.starting_cash)


@dataclass(frozen=True)
class PositionRow:
    symbol: str
    qty: Decimal
    avg_cost: Decimal
    mark: Decimal | None  # None: no mark given (valued at cost, unrealised PnL unknown)
    market_value: Decimal
    unrealised_pnl: Decimal | None
    realised_pnl: Decimal  # net of this symbol's fees


@dataclass(frozen=True)
class AccountPnl:
    cash: Decimal
    equity: Decimal
    realised_pnl: Decimal  # net of fees
    unrealised_pnl: Decimal  # of the marked positions
    unmarked: list[str]
    positions: list[PositionRow]


def account_pnl(*, account: TradingAccount, marks: Mapping[str, Decimal]) -> AccountPnl:
    """Cash, equity and PnL of the account at `marks`, with one row per open position."""
    book = account_book(account=account)
    rows = [
        PositionRow(
            symbol=s,
            qty=p.qty,
            avg_cost=p.avg_cost,
            mark=marks.get(s),
            market_value=p.qty * marks.get(s, p.avg_cost),
            unrealised_pnl=p.unrealised_pnl(marks[s]) if s in marks else None,
            realised_pnl=p.realised_pnl - p.fees,
        )
        for s, p in sorted(book.positions.items())
        if p.qty
    ]
    return AccountPnl(
        cash=book.cash,
        equity=book.equity(marks),
        realised_pnl=book.realised_pnl(),
        unrealised_pnl=book.unrealised_pnl(marks),
        unmarked=book.unmarked(marks),
        positions=rows,
    )


def order_filled_qty(*, order: Order) -> Decimal:
    return Fill.objects.filter(order=order).aggregate(q=Coalesce(Sum("qty"), ZERO))["q"]


def rejection_streak(*, account: TradingAccount, limit: int) -> int:
    """How many of the account's most recently sent orders were rejected by the broker in a row
    (refusals by our own controls were never sent and do not count)."""
    recent = (
        Order.objects.filter(account=account, submitted_at__isnull=False)
        .exclude(status__in=[OrderStatus.SUBMITTED])
        .order_by("-submitted_at", "-pk")
        .values_list("status", flat=True)[:limit]
    )
    streak = 0
    for status in recent:
        if status != OrderStatus.REJECTED:
            break
        streak += 1
    return streak


@dataclass
class ControlSnapshot:
    """The account as the controls see it at the start of one batch of orders (read under the
    account's row lock), with the cycle's running totals that each passed order adds to."""

    book: Book
    equity: Decimal
    day_start_equity: Decimal
    rejection_streak: int
    open_sides: set[tuple[str, str]]  # (symbol, side) with an open order from an earlier cycle
    cycle_orders: int
    cycle_notional: Decimal

    def state_for(self, symbol: str, side: str) -> AccountState:
        position = self.book.positions.get(symbol)
        return AccountState(
            equity=self.equity,
            position_qty=position.qty if position else ZERO,
            open_orders_same_side=int((symbol, side) in self.open_sides),
            cycle_orders=self.cycle_orders,
            cycle_notional=self.cycle_notional,
            rejection_streak=self.rejection_streak,
            intraday_pnl=self.equity - self.day_start_equity,
            day_start_equity=self.day_start_equity,
        )

    def add_passed(self, notional: Decimal) -> None:
        self.cycle_orders += 1
        self.cycle_notional += notional


def control_snapshot(
    *,
    account: TradingAccount,
    bar_time: dt.datetime,
    marks: Mapping[str, Decimal],
    day_start_equity: Decimal,
    limits: Limits,
) -> ControlSnapshot:
    """Everything `controls.check` needs for a batch of orders of one cycle, in a fixed number of
    queries (call it under the account's lock)."""
    book = account_book(account=account)
    open_sides = set(
        Order.objects.filter(account=account, status__in=OPEN)
        .exclude(bar_time=bar_time)
        .values_list("symbol", "side")
        .distinct()
    )
    # Orders of this cycle that passed the controls (a refusal was never submitted).
    cycle = (
        Order.objects.filter(account=account, bar_time=bar_time)
        .exclude(status=OrderStatus.REJECTED, submitted_at__isnull=True)
        .aggregate(
            n=Count("pk"),
            notional=Coalesce(
                Sum(ExpressionWrapper(F("qty") * F("limit_price"), output_field=DecimalField())), ZERO
            ),
        )
    )
    return ControlSnapshot(
        book=book,
        equity=book.equity(marks),
        day_start_equity=day_start_equity,
        rejection_streak=rejection_streak(account=account, limit=limits.max_rejection_streak + 1),
        open_sides=set(open_sides),
        cycle_orders=cycle["n"],
        cycle_notional=Decimal(cycle["notional"]),
    )


def refusals_by_cycle(*, account: TradingAccount, bar_time: dt.datetime) -> dict[str, int]:
    """Reason code -> number of orders the controls refused in the cycle of `bar_time`."""
    rows = (
        Order.objects.filter(
            account=account, bar_time=bar_time, status=OrderStatus.REJECTED, submitted_at__isnull=True
        )
        .values("reason_code")
        .annotate(n=Count("pk"))
    )
    return {r["reason_code"]: r["n"] for r in rows}
