"""Cross-check harness: one long-only MA-crossover strategy run by this engine, backtrader and
vectorbt, configured identically, so tests and bench/backtest.py compare trades and equity.

The shared configuration: zero costs, a signal at the close of t, a market order filled at the
open of t+1, all-in sizing from the close of t: shares = cash x invest / close_t (fractional, or
floored to whole shares). backtrader: cheat-on-open off, a sizer doing exactly that; vectorbt:
`Portfolio.from_orders` with size_type targetpercent, price = open, val_price = previous close.
backtrader and vectorbt are development dependencies: imported only inside their runners.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..costs import CostModel
from ..datasets import SHARED_DATA, daily_stamp_utc
from ..panel import Panel
from ..rules import ma_crossover_weights
from .config import BacktestConfig
from .simulator import run_backtest

CSVDIR = SHARED_DATA / "zipline_samples"


@dataclass(frozen=True)
class PeerRun:
    trades: list[tuple[str, str, float]]  # (fill date, "buy"/"sell", shares)
    final_equity: float
    equity: np.ndarray | None = None  # close-marked equity per bar, when the tool exposes it


def load_csvdir(symbol: str) -> pd.DataFrame:
    """A zipline csvdir sample (date, open, high, low, close, volume, dividend, split)."""
    path = CSVDIR / f"csvdir_{symbol}.csv"
    if not path.exists():
        raise FileNotFoundError(f"zipline csvdir sample {path} is absent")
    return pd.read_csv(path, parse_dates=["date"])


def single_name_panel(df: pd.DataFrame, symbol: str) -> Panel:
    def col(name: str) -> np.ndarray:
        return df[name].to_numpy(dtype=np.float64)[:, None].copy()

    index = daily_stamp_utc(df["date"]).tz_localize(None).values.astype("datetime64[ns]")
    return Panel(
        index=index,
        symbols=(symbol,),
        open=col("open"),
        high=col("high"),
        low=col("low"),
        close=col("close"),
        volume=col("volume"),
        member=np.ones((len(df), 1), dtype=bool),
        sector=np.array([-1]),
        benchmark=np.full(len(df), np.nan),
    )


def ours(df: pd.DataFrame, *, fast: int, slow: int, cash: float, invest: float, integer: bool) -> PeerRun:
    panel = single_name_panel(df, "X")
    weights = ma_crossover_weights(panel.close, fast=fast, slow=slow)
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
        raise RuntimeError(
            "a buy was truncated for cash: the peers would reject it instead; raise the buffer"
        )
    dates = df["date"].dt.strftime("%Y-%m-%d").to_numpy()
    f = r.fill_records
    trades = [
        (dates[b], "buy" if s > 0 else "sell", abs(float(s)))
        for b, s in zip(f["bar"], f["shares"], strict=True)
    ]
    return PeerRun(trades=trades, final_equity=float(r.equity[-1]), equity=r.equity)


def backtrader(
    df: pd.DataFrame, *, fast: int, slow: int, cash: float, invest: float, integer: bool
) -> PeerRun:
    import backtrader as bt

    class AllIn(bt.Sizer):
        def _getsizing(self, comminfo, cash_now, data, isbuy):
            size = cash_now * invest / data.close[0]
            return int(size) if integer else size

    class MaCross(bt.Strategy):
        def __init__(self):
            self.cross = bt.ind.CrossOver(bt.ind.SMA(period=fast), bt.ind.SMA(period=slow))
            self.fills: list[tuple[str, str, float]] = []
            self.values: list[float] = []

        def next(self):
            self.values.append(self.broker.getvalue())
            if not self.position and self.cross[0] > 0:
                self.buy()
            elif self.position and self.cross[0] < 0:
                self.close()

        def notify_order(self, order):
            if order.status == order.Completed:
                day = bt.num2date(order.executed.dt).strftime("%Y-%m-%d")
                self.fills.append((day, "buy" if order.isbuy() else "sell", abs(float(order.executed.size))))

    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=False)
    feed = bt.feeds.PandasData(
        dataname=df.set_index("date")[["open", "high", "low", "close", "volume"]], openinterest=None
    )
    cerebro.adddata(feed)
    cerebro.addstrategy(MaCross)
    cerebro.addsizer(AllIn)
    cerebro.broker.setcash(cash)
    cerebro.broker.setcommission(commission=0.0)
    strat = cerebro.run()[0]
    return PeerRun(trades=strat.fills, final_equity=float(cerebro.broker.getvalue()))


def vectorbt(df: pd.DataFrame, *, fast: int, slow: int, cash: float, invest: float, integer: bool) -> PeerRun:
    import vectorbt as vbt

    close = pd.Series(df["close"].to_numpy(dtype=np.float64), index=df["date"])
    open_ = pd.Series(df["open"].to_numpy(dtype=np.float64), index=df["date"])
    fast_ma = vbt.MA.run(close, fast)
    slow_ma = vbt.MA.run(close, slow)
    entries = fast_ma.ma_crossed_above(slow_ma).to_numpy()
    exits = fast_ma.ma_crossed_below(slow_ma).to_numpy()
    size = np.full(len(close), np.nan)
    # the signal at the close of t becomes an order at t+1 (price: open of t+1, valued at close t)
    size[1:][entries[:-1]] = invest
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
        freq="1D",
    )
    rec = pf.orders.records
    dates = df["date"].dt.strftime("%Y-%m-%d").to_numpy()
    trades = [
        (dates[i], "buy" if side == 0 else "sell", float(s))
        for i, side, s in zip(rec["idx"], rec["side"], rec["size"], strict=True)
    ]
    value = pf.value().to_numpy()
    return PeerRun(trades=trades, final_equity=float(value[-1]), equity=value)
