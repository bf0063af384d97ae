"""Price features: returns, gaps, trend (distance to moving averages), RSI, Bollinger, breakouts.

Returns are log returns of RAW closes: a stock split inside a window shows up as a large return
(the daily set's prices are unadjusted; adjusting is the data layer's job, not the feature's)."""

from __future__ import annotations

import numpy as np

from .context import FeatureContext
from .ops import safe_div, shift
from .registry import feature

RETURN_WINDOWS = (1, 3, 5, 10, 20, 60)
MA_WINDOWS = (10, 20, 50, 200)


def _register_returns(k: int) -> None:
    @feature(f"ret_{k}", lookback=k, kind="price")
    def ret(ctx: FeatureContext) -> np.ndarray:
        """Log close-to-close return over the last k bars."""
        return ctx.now(ctx.log_close) - ctx.lagged(ctx.log_close, k)


for _k in RETURN_WINDOWS:
    _register_returns(_k)


@feature("mom_60_5", lookback=60, kind="price")
def mom_60_5(ctx: FeatureContext) -> np.ndarray:
    """Momentum from t-60 to t-5, skipping the last 5 bars (short-term reversal kept out)."""
    return ctx.lagged(ctx.log_close, 5) - ctx.lagged(ctx.log_close, 60)


@feature("gap_open", lookback=1, kind="price")
def gap_open(ctx: FeatureContext) -> np.ndarray:
    """Opening gap: log(open_t / close_{t-1}) (overnight for daily bars and each day's first hour)."""
    return np.log(ctx.open) - shift(ctx.log_close, 1)


@feature("gap_mean_5", lookback=5, kind="price", depends=("gap_open",))
def gap_mean_5(ctx: FeatureContext) -> np.ndarray:
    """Mean opening gap over the last 5 bars (persistent overnight drift)."""
    return ctx.window("mean", ctx.feature("gap_open"), 5)


@feature("intraday_ret", lookback=0, kind="price")
def intraday_ret(ctx: FeatureContext) -> np.ndarray:
    """log(close / open) of the bar itself."""
    return ctx.now(ctx.log_close) - np.log(ctx.now(ctx.open))


def close_ma(ctx: FeatureContext, w: int) -> np.ndarray:
    """Simple moving average of the last w closes (final-use: see FeatureContext.window)."""
    return ctx.memo(f"close_ma_{w}", lambda: ctx.window("mean", ctx.close, w))


def _register_ma(w: int) -> None:
    @feature(f"dist_ma_{w}", lookback=w - 1, kind="price")
    def dist_ma(ctx: FeatureContext) -> np.ndarray:
        """close / simple moving average of the last w closes - 1."""
        return safe_div(ctx.now(ctx.close), close_ma(ctx, w)) - 1.0


for _w in MA_WINDOWS:
    _register_ma(_w)


@feature("ma_cross_10_50", lookback=49, kind="price")
def ma_cross_10_50(ctx: FeatureContext) -> np.ndarray:
    """Fast over slow moving average - 1 (trend direction)."""
    return safe_div(close_ma(ctx, 10), close_ma(ctx, 50)) - 1.0


@feature("rsi_14", lookback=14, kind="price")
def rsi_14(ctx: FeatureContext) -> np.ndarray:
    """RSI over 14 bars with SIMPLE averages of gains and losses (Cutler's RSI), 0..100.

    Wilder's exponential smoothing has infinite memory; the simple form keeps the value at t a
    function of the last 15 closes, so live and batch computations agree exactly. Moves are log
    returns (the same RSI at any price level): 100 * mean(gains) / mean(|moves|); 50 when flat."""
    r = ctx.ret
    gain = ctx.window("mean", np.maximum(r, 0.0), 14)
    total = ctx.window("mean", np.abs(r), 14)
    return np.where(total == 0.0, 50.0, 100.0 * safe_div(gain, total))


@feature("bb_pos_20", lookback=19, kind="price")
def bb_pos_20(ctx: FeatureContext) -> np.ndarray:
    """Bollinger position: (close - MA20) / (2 * std20 of closes); +-1 at the bands."""
    return safe_div(ctx.now(ctx.close) - close_ma(ctx, 20), 2.0 * ctx.window("std", ctx.close, 20))


def _register_breakouts(w: int) -> None:
    @feature(f"breakout_high_{w}", lookback=w, kind="price")
    def breakout_high(ctx: FeatureContext) -> np.ndarray:
        """log(close / highest high of the previous w bars): > 0 is a breakout above the range."""
        return ctx.now(ctx.log_close) - np.log(ctx.window("max", ctx.high, w, lag=1, key="high"))

    @feature(f"breakout_low_{w}", lookback=w, kind="price")
    def breakout_low(ctx: FeatureContext) -> np.ndarray:
        """log(close / lowest low of the previous w bars): < 0 is a breakdown below the range."""
        return ctx.now(ctx.log_close) - np.log(ctx.window("min", ctx.low, w, lag=1, key="low"))


for _w in (20, 60):
    _register_breakouts(_w)


@feature("range_pos_20", lookback=19, kind="price")
def range_pos_20(ctx: FeatureContext) -> np.ndarray:
    """Where the close sits in the last 20 bars' high-low range (0 = at the low, 1 = at the high)."""
    # The same 20-bar extremes breakout_*_20 read (one bar later): computed once in full mode.
    hi, lo = ctx.window("max", ctx.high, 20, key="high"), ctx.window("min", ctx.low, 20, key="low")
    return safe_div(ctx.now(ctx.close) - lo, hi - lo)


@feature("close_loc", lookback=0, kind="price")
def close_loc(ctx: FeatureContext) -> np.ndarray:
    """Close location within its own bar's range (0.5 for a bar with high == low)."""
    high, low, close = ctx.now(ctx.high), ctx.now(ctx.low), ctx.now(ctx.close)
    rng = high - low
    return np.where(rng == 0.0, 0.5, safe_div(close - low, rng))


@feature("max_ret_20", lookback=20, kind="price")
def max_ret_20(ctx: FeatureContext) -> np.ndarray:
    """Largest 1-bar return in the last 20 bars (lottery-like names)."""
    return ctx.window("max", ctx.ret, 20)
