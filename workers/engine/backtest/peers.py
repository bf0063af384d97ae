"""Cross-check harness: one long-only MA-crossover strategy on N names run by this engine, backtrader
and vectorbt, configured identically, so tests and bench/backtest.py compare trades and equity.

The shared configuration: zero costs, one cash account for all names, a signal per name at the
close of t, a market order filled at the open of t+1. Sizing per name (equal split): an entry
buys equity_t x invest / N / close_t shares (fractional, or floored to whole shares), an exit
sells the whole position, names without a crossing keep their position (no drift rebalancing).
Ours: target weights 1/N on an up-cross, 0 on a down-cross, NaN (hold) elsewhere, cash buffer
1 - invest. backtrader: cheat-on-open off, `buy(size=...)` from the broker value at t and
`close()`. vectorbt: `Portfolio.from_orders` with one cash-sharing group, size type
targetpercent invest / N, price = open, val_price = previous close, sells first in a bar.
With N = 1 this is the classic all-in single-name test. Every name must have a bar on every date
(backtrader's multi-data clock and vectorbt's columns would otherwise differ from our panel).
backtrader and vectorbt are development dependencies: imported only inside their runners.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..costs import CostModel
from ..market import MARKET_TZ, OHLCV, PRICE_FIELDS, daily_stamp_utc
from ..panel import Panel
from ..rules import crossovers, sma
from .config import BacktestConfig
from .simulator import run_backtest

Trade = tuple[str, str, str, float]  # (fill date, symbol, "buy"/"sell", shares)


class PeerDataError(ValueError):
    """Frames the three engines could not be run on identically, named."""


@dataclass(frozen=True)
class PeerRun:
    trades: list[Trade]  # sorted by (date, symbol)
    final_equity: float
    equity: np.ndarray | None = None  # close-marked equity per bar, when the tool exposes it


def frames_from_panel(panel: Panel, symbols: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Per-name bar frames (date, OHLCV) of a daily Panel, for names with a bar on every row."""
    dates = pd.DatetimeIndex(panel.index).tz_localize("UTC").tz_convert(MARKET_TZ)
    dates = dates.tz_localize(None).normalize()
    out = {}
    for sym in symbols if symbols is not None else panel.symbols:
        j = panel.symbols.index(sym)
        out[sym] = pd.DataFrame({"date": dates, **{c: getattr(panel, c)[:, j] for c in OHLCV}})
    return check_frames(out)


def check_frames(frames: Mapping[str, pd.DataFrame] | pd.DataFrame) -> dict[str, pd.DataFrame]:
    """{symbol: frame}: one frame is the single name "X"; all frames must share the same dates and
    have finite prices and volume > 0 on every one of them (checked when stacked)."""
    if isinstance(frames, pd.DataFrame):
        frames = {"X": frames}
    if not frames:
        raise PeerDataError("no frames given")
    for sym, df in frames.items():
        missing = [c for c in ("date", *OHLCV) if c not in df.columns]
        if missing:
            raise PeerDataError(f"{sym}: missing columns {missing}")
    return dict(frames)


def stack_frames(frames: dict[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    """(T, N) float64 arrays per bar column (and the shared dates), validated."""
    first = next(iter(frames.values()))["date"].to_numpy()
    for sym, df in frames.items():
        dates = df["date"].to_numpy()
        if len(dates) != len(first) or (dates != first).any():
            raise PeerDataError(f"{sym}: dates differ from the first frame's (all names need every bar)")
    out = {
        c: np.ascontiguousarray(np.column_stack([f[c].to_numpy(dtype=np.float64) for f in frames.values()]))
        for c in OHLCV
    }
    for c, arr in out.items():
        bad = ~np.isfinite(arr) | (arr <= 0)
        if bad.any():
            t, j = np.argwhere(bad)[0]
            raise PeerDataError(f"{list(frames)[j]}: {c} must be finite and > 0 on every bar (row {t})")
    out["date"] = first
    return out


def dyadic_prices(frames: dict[str, pd.DataFrame], *, bits: int = 8) -> dict[str, pd.DataFrame]:
    """Prices rounded to multiples of 2**-bits (1/256 $ by default): such numbers add up exactly in
    float64, so every engine's moving-average sums are bit-identical whatever its summation order
    (running sum, window sum, fsum). On split-adjusted prices (not cents any more) the engines'
    SMAs otherwise differ in the last bit, and a fast/slow difference within rounding of zero
    flips a crossover in one engine and not another (AJG 2005-01-18 on the daily set)."""
    q = float(2**bits)
    out = {}
    for sym, df in frames.items():
        prices = {c: np.round(df[c].to_numpy(dtype=np.float64) * q) / q for c in PRICE_FIELDS}
        out[sym] = df.assign(**prices)
    return check_frames(out)


def frames_panel(frames: dict[str, pd.DataFrame]) -> Panel:
    bars = stack_frames(frames)
    T, N = bars["close"].shape
    return Panel(
        index=daily_stamp_utc(bars["date"]).tz_localize(None).values.astype("datetime64[ns]"),
        symbols=tuple(frames),
        **{c: bars[c] for c in OHLCV},
        member=np.ones((T, N), dtype=bool),
        sector=np.full(N, -1),
        benchmark=np.full(T, np.nan),
    )


def single_name_panel(df: pd.DataFrame, symbol: str) -> Panel:
    return frames_panel(check_frames({symbol: df}))


def crossover_targets(close: np.ndarray, *, fast: int, slow: int) -> np.ndarray:
    """1/N on an up-cross, 0 on a down-cross, NaN (hold) elsewhere: per-name entries and exits."""
    up, down = crossovers(sma(close, fast), sma(close, slow))
    n = close.shape[1]
    return np.where(up, 1.0 / n, np.where(down, 0.0, np.nan))


def _sorted(trades: list[Trade]) -> list[Trade]:
    return sorted(trades, key=lambda x: (x[0], x[1]))


def ours(frames, *, fast: int, slow: int, cash: float, invest: float, integer: bool) -> PeerRun:
    frames = check_frames(frames)
    panel = frames_panel(frames)
    weights = crossover_targets(panel.close, fast=fast, slow=slow)
    config = BacktestConfig(
        initial_cash=cash,
        costs=CostModel.zero(),
        participation=1.0,
        cash_buffer=1.0 - invest,
        integer_shares=integer,
        governor=None,
    )
    r = run_backtest(panel, config, targets=weights)
    if (r.buy_scale < 1).any():
        raise RuntimeError("a buy was truncated for cash: the peers would reject it instead; lower invest")
    dates = pd.DatetimeIndex(next(iter(frames.values()))["date"]).strftime("%Y-%m-%d").to_numpy()
    f = r.fill_records
    syms = np.asarray(panel.symbols)
    trades = [
        (dates[b], str(syms[i]), "buy" if q > 0 else "sell", abs(float(q)))
        for b, i, q in zip(f["bar"], f["symbol"], f["shares"], strict=True)
    ]
    return PeerRun(trades=_sorted(trades), final_equity=float(r.equity[-1]), equity=r.equity)


def backtrader(frames, *, fast: int, slow: int, cash: float, invest: float, integer: bool) -> PeerRun:
    import backtrader as bt

    frames = check_frames(frames)
    n = len(frames)

    class MaCross(bt.Strategy):
        def __init__(self):
            self.cross = [
                bt.ind.CrossOver(bt.ind.SMA(d, period=fast), bt.ind.SMA(d, period=slow)) for d in self.datas
            ]
            self.fills: list[Trade] = []

        def next(self):
            value = self.broker.getvalue()
            for d, cross in zip(self.datas, self.cross, strict=True):
                held = self.getposition(d).size
                if not held and cross[0] > 0:
                    size = value * invest / n / d.close[0]
                    self.buy(data=d, size=int(size) if integer else size)
                elif held and cross[0] < 0:
                    self.close(data=d)

        def notify_order(self, order):
            if order.status == order.Completed:
                day = bt.num2date(order.executed.dt).strftime("%Y-%m-%d")
                side = "buy" if order.isbuy() else "sell"
                self.fills.append((day, order.data._name, side, abs(float(order.executed.size))))
            elif order.status in (order.Margin, order.Rejected):
                raise RuntimeError(
                    f"backtrader rejected an order for {order.data._name}: raise the cash buffer"
                )

    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=False)
    for sym, df in frames.items():
        feed = bt.feeds.PandasData(dataname=df.set_index("date")[list(OHLCV)], openinterest=None)
        cerebro.adddata(feed, name=sym)
    cerebro.addstrategy(MaCross)
    cerebro.broker.setcash(cash)
    cerebro.broker.setcommission(commission=0.0)
    strat = cerebro.run()[0]
    return PeerRun(trades=_sorted(strat.fills), final_equity=float(cerebro.broker.getvalue()))


def vectorbt(frames, *, fast: int, slow: int, cash: float, invest: float, integer: bool) -> PeerRun:
    import vectorbt as vbt

    frames = check_frames(frames)
    syms = list(frames)
    dates = next(iter(frames.values()))["date"]
    close = pd.DataFrame({s: f["close"].to_numpy(dtype=np.float64) for s, f in frames.items()}, index=dates)
    open_ = pd.DataFrame({s: f["open"].to_numpy(dtype=np.float64) for s, f in frames.items()}, index=dates)
    fast_ma = vbt.MA.run(close, fast)
    slow_ma = vbt.MA.run(close, slow)
    # The crossing rule is backtrader's CrossOver (and ours): an exact tie keeps the previous side.
    # vectorbt's ma_crossed_above counts a tie as "below" and signals again when the fast MA moves
    # off it (AAPL 2004-02-13/17 on the daily set), so the crossings are taken from its MA values.
    diff = fast_ma.ma.to_numpy() - slow_ma.ma.to_numpy()
    side = pd.DataFrame(np.where(diff == 0, np.nan, np.sign(diff))).ffill().to_numpy()
    entries = np.zeros(diff.shape, dtype=bool)
    exits = np.zeros(diff.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        entries[1:] = (side[:-1] < 0) & (diff[1:] > 0)
        exits[1:] = (side[:-1] > 0) & (diff[1:] < 0)
    size = np.full(close.shape, np.nan)
    # the signal at the close of t becomes an order at t+1 (price: open of t+1, valued at close t)
    size[1:][entries[:-1]] = invest / len(syms)
    size[1:][exits[:-1]] = 0.0
    pf = vbt.Portfolio.from_orders(
        close,
        size=size,
        size_type="targetpercent",
        direction="longonly",
        price=open_,
        val_price=close.shift(1),
        init_cash=cash,
        fees=0.0,
        size_granularity=1.0 if integer else None,
        group_by=True,
        cash_sharing=True,
        call_seq="auto",
        freq="1D",
    )
    rec = pf.orders.records
    day = dates.dt.strftime("%Y-%m-%d").to_numpy()
    trades = [
        (day[i], syms[c], "buy" if side == 0 else "sell", float(q))
        for i, c, side, q in zip(rec["idx"], rec["col"], rec["side"], rec["size"], strict=True)
    ]
    value = pf.value().to_numpy()
    return PeerRun(trades=_sorted(trades), final_equity=float(value[-1]), equity=value)


def same_trades(a: list[Trade], b: list[Trade], *, rtol: float = 1e-12) -> bool:
    """Same fills (date, symbol, side) in the same order and the same share quantities."""
    if len(a) != len(b):
        return False
    return all(
        x[:3] == y[:3] and np.isclose(x[3], y[3], rtol=rtol, atol=0) for x, y in zip(a, b, strict=True)
    )
