"""What the cycle knows at the close of its bar: the point-in-time panel (apps.marketdata's panel
selector, `as_of` = the bar time, so nothing known later is seen), the symbols it must not trade,
and the account converted to the kernel's float arrays (the one Decimal -> float boundary of the
cycle; NaN or negative holdings are refused here).

The panel starts at the account's ANCHOR: `LIVE_PANEL_DAYS` calendar days before the first cycle
of the version on the account, and keeps that start afterwards, so at every bar the kernel reads
exactly the prefix a backtest started at the anchor reads (rule schedules and rolling windows
included): paper and backtest agree by construction. The price is a panel growing by one bar per
cycle (a year of hourly bars for 500 names is ~0.9 M rows per load).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import numpy as np
import pandas as pd
from django.conf import settings

from apps.live.models import CycleRun
from apps.marketdata.selectors.panel import PanelBuild, PanelDataError, panel_build
from apps.trading.ledger import Book
from workers.engine.decide.kernel import AccountState, GovernorState
from workers.engine.market import MARKET_TZ


class CycleDataError(ValueError):
    """The data for this bar is not there (named): the cycle skips instead of trading on it."""


def market_date(ts: dt.datetime) -> dt.date:
    return pd.Timestamp(ts).tz_convert(MARKET_TZ).date()


def panel_stamp(ts: dt.datetime | pd.Timestamp) -> pd.Timestamp:
    """A UTC time as the panel's index holds it (naive UTC)."""
    stamp = pd.Timestamp(ts)
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tz is not None else stamp


def bar_positions(panel) -> dict[pd.Timestamp, int]:
    """Panel row of each bar end (naive UTC)."""
    return {pd.Timestamp(ts): t for t, ts in enumerate(panel.index)}


def anchor_date(*, account, version, bar_time: dt.datetime) -> dt.date:
    first = (
        CycleRun.objects.filter(account=account, model_version=version)
        .order_by("bar_time")
        .values_list("bar_time", flat=True)
        .first()
    )
    start = first if first is not None and first < bar_time else bar_time
    return market_date(start) - dt.timedelta(days=settings.LIVE_PANEL_DAYS)


def cycle_panel(*, strategy, anchor: dt.date, bar_time: dt.datetime) -> PanelBuild:
    """The strategy's universe from the anchor to the bar, as known at the bar."""
    try:
        build = panel_build(
            universe=strategy.universe,
            frequency=strategy.frequency,
            start=anchor,
            end=market_date(bar_time) + dt.timedelta(days=1),
            as_of=bar_time,
        )
    except PanelDataError as exc:  # no bars, or bars the engine must not see: not this bar's trade
        raise CycleDataError(str(exc)) from exc
    last = pd.Timestamp(build.panel.index[-1])
    if last != panel_stamp(bar_time):
        raise CycleDataError(
            f"no bar at {pd.Timestamp(bar_time):%Y-%m-%d %H:%M} UTC yet: the newest known ends {last:%Y-%m-%d %H:%M}"
        )
    return build


# Why a name is blocked: no bar at all in the panel's window (a coverage gap of the data we hold)
# or no bar at the cycle's bar (stale); the feeds say the same in their own words.
MISSING = "member without any bar (missing)"
STALE = "no bar at the cycle's bar (stale)"


def blocked_symbols(build: PanelBuild) -> dict[str, str]:
    """Members without a bar at the cycle's bar (stale or missing data): never filled forward,
    never traded this cycle. Symbol -> why."""
    panel = build.panel
    t = len(panel.index) - 1
    out = {}
    for i, symbol in enumerate(panel.symbols):
        if panel.member[t, i] and not np.isfinite(panel.close[t, i]):
            out[symbol] = STALE
    for symbol in build.members_without_bars:
        out[symbol] = MISSING
    return out


def last_closes(panel) -> np.ndarray:
    """(N,) the last finite close of each name up to the panel's last row (NaN: none): the mark."""
    frame = pd.DataFrame(panel.close)
    return frame.ffill().to_numpy(np.float64)[-1]


@dataclass(frozen=True)
class KernelAccount:
    state: AccountState
    equity: float
    unmanaged: dict[str, Decimal]  # held names the panel does not carry (left the universe's range)


def kernel_account(*, book: Book, panel, governor: GovernorState) -> KernelAccount:
    index = {s: i for i, s in enumerate(panel.symbols)}
    positions = np.zeros(len(panel.symbols))
    unmanaged: dict[str, Decimal] = {}
    for symbol, position in book.positions.items():
        if not position.qty:
            continue
        if position.qty < 0 or not position.qty.is_finite():
            raise CycleDataError(f"position {symbol} {position.qty} is not a long share count")
        if symbol in index:
            positions[index[symbol]] = float(position.qty)
        else:
            unmanaged[symbol] = position.qty
    cash = float(book.cash)
    marks = last_closes(panel)
    held = positions > 0
    if not np.isfinite(marks[held]).all():
        names = [panel.symbols[i] for i in np.flatnonzero(held & ~np.isfinite(marks))]
        raise CycleDataError(f"held names without any price in the panel: {', '.join(names)}")
    equity = cash + float(np.dot(positions[held], marks[held]))
    # A held name the panel lacks is valued at its average cost (and reported as unmanaged).
    equity += sum(float(q * book.positions[s].avg_cost) for s, q in unmanaged.items())
    if not np.isfinite(equity):
        raise CycleDataError(f"equity is not finite (cash {cash})")
    return KernelAccount(
        state=AccountState(positions=positions, cash=cash, equity=np.array([equity]), governor=governor),
        equity=equity,
        unmanaged=unmanaged,
    )


@cache
def _replay_feed(path: str):
    from apps.trading.feeds.replay import ReplayFeed

    return ReplayFeed(path)


def feed_poll(*, symbols: list[str], bar_time: dt.datetime) -> dict[str, str]:
    """Bring the bars that closed by `bar_time` in through the configured feed
    (settings.LIVE_FEED: "" = bars arrive by imports, "replay", "alpaca"); symbol -> why blocked."""
    kind = settings.LIVE_FEED
    if not kind:
        return {}
    if kind == "replay":
        result = _replay_feed(str(settings.LIVE_REPLAY_FILE)).poll(bar_time)
        blocked = {s.symbol: f"stale: newest bar {s.last_bar:%Y-%m-%d %H:%M}" for s in result.stale}
        return blocked | {s: MISSING for s in result.missing if s in symbols}
    if kind == "alpaca":
        from apps.trading.feeds.alpaca import alpaca_hourly_bars_import

        result = alpaca_hourly_bars_import(symbols=symbols, expected_through=bar_time)
        return {s: STALE for s in result.stale} | {s: MISSING for s in result.missing}
    raise CycleDataError(f"LIVE_FEED must be '', 'replay' or 'alpaca', not {kind!r}")
