"""The account valued now: positions at their last known close, the headline (equity, today's
PnL, drawdown from the peak of the cycles' equity, exposure, governor) and the target weights."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from apps.cockpit.rows import headline_block, position_row
from apps.live.clock import ClockError, market_now
from apps.live.cycle.data import market_date
from apps.live.cycle.machine import CycleStatus
from apps.live.models import CycleRun
from apps.marketdata.models import Bar, Instrument
from apps.trading.models import Fill, TradingAccount
from apps.trading.selectors import AccountPnl, account_pnl
from workers.engine.market import Frequency

ZERO = Decimal(0)
UNCLASSIFIED = "Unclassified"


def valuation_time() -> dt.datetime:
    """What time it is for the desk (the replay's bar in the demo, else the wall clock)."""
    try:
        return market_now()
    except ClockError:
        return timezone.now()


@dataclass(frozen=True)
class Marks:
    closes: dict[str, Decimal]
    stamps: dict[str, dt.datetime]
    sectors: dict[str, str]


def last_closes(*, account: TradingAccount, frequency: str, as_of: dt.datetime) -> Marks:
    """The last close known at `as_of` of every symbol the account ever traded, and its sector
    (one query: a correlated subquery per instrument on the bar's unique index)."""
    newest = Bar.objects.filter(instrument=OuterRef("pk"), frequency=frequency, known_at__lte=as_of).order_by(
        "-ts"
    )
    rows = (
        Instrument.objects.filter(symbol__in=Fill.objects.filter(account=account).values("symbol"))
        .annotate(close=Subquery(newest.values("close")[:1]), ts=Subquery(newest.values("ts")[:1]))
        .values_list("symbol", "sector", "close", "ts")
    )
    closes, stamps, sectors = {}, {}, {}
    for symbol, sector, close, ts in rows:
        sectors[symbol] = sector or UNCLASSIFIED
        if close is not None:
            closes[symbol], stamps[symbol] = Decimal(close), ts
    return Marks(closes, stamps, sectors)


@dataclass(frozen=True)
class CyclePoint:
    bar_time: dt.datetime
    equity: Decimal


def equity_history(*, account: TradingAccount) -> list[CyclePoint]:
    """The equity each settled cycle recorded (its summary), oldest first (one query)."""
    rows = (
        CycleRun.objects.filter(account=account)
        .exclude(summary={})
        .order_by("bar_time")
        .values_list("bar_time", "summary__equity")
    )
    return [CyclePoint(t, Decimal(str(e))) for t, e in rows if e is not None]


@dataclass(frozen=True)
class LastDecision:
    bar_time: dt.datetime | None = None
    weights: dict[str, float | None] = field(default_factory=dict)
    governor_state: str | None = None


def last_decision(*, account: TradingAccount) -> LastDecision:
    row = (
        CycleRun.objects.filter(account=account, status=CycleStatus.SUCCEEDED)
        .exclude(decision={})
        .order_by("-bar_time")
        .values_list("bar_time", "decision__weights", "decision__governor")
        .first()
    )
    if row is None:
        return LastDecision()
    bar_time, weights, governor = row
    return LastDecision(bar_time, weights or {}, (governor or {}).get("state"))


def day_start_equity(*, history: list[CyclePoint], as_of: dt.datetime, starting_cash: Decimal) -> Decimal:
    """Today's PnL base: the equity of the day's first cycle, else the previous session's close
    (the last cycle before today), else the starting cash."""
    today = market_date(as_of)
    before = starting_cash
    for point in history:
        day = market_date(point.bar_time)
        if day == today:
            return point.equity
        if day < today:
            before = point.equity
    return before


@dataclass(frozen=True)
class Marked:
    pnl: AccountPnl
    marks: Marks
    headline: dict
    positions: list[dict]
    history: list[CyclePoint]
    decision: LastDecision


def account_marked(*, account: TradingAccount, frequency: str = Frequency.HOUR, as_of=None) -> Marked:
    """The account's headline and position rows at the last known closes (a fixed number of queries)."""
    as_of = as_of or valuation_time()
    marks = last_closes(account=account, frequency=frequency, as_of=as_of)
    pnl = account_pnl(account=account, marks=marks.closes)
    history = equity_history(account=account)
    decision = last_decision(account=account)
    held_stamps = [marks.stamps[p.symbol] for p in pnl.positions if p.symbol in marks.stamps]
    headline = headline_block(
        equity=pnl.equity,
        cash=pnl.cash,
        day_start_equity=day_start_equity(history=history, as_of=as_of, starting_cash=account.starting_cash),
        starting_cash=account.starting_cash,
        peak_equity=max([account.starting_cash, *(p.equity for p in history)]),
        gross_exposure=sum((abs(p.market_value) for p in pnl.positions), ZERO),
        positions=len(pnl.positions),
        governor_state=decision.governor_state,
        as_of=max(held_stamps) if held_stamps else (history[-1].bar_time if history else None),
    )
    positions = [
        position_row(p, equity=pnl.equity, target_weight=decision.weights.get(p.symbol))
        for p in pnl.positions
    ]
    return Marked(pnl, marks, headline, positions, history, decision)
