"""Training labels, aligned with execution: a decision at bar t fills at the OPEN of t+1.

`forward_excess_return(panel, horizon=h)[t]` = open[t+1+h] / open[t+1] - 1 (the stock's simple
return from entry to the exit h bars later, both at the open, as the backtest trades) minus the
benchmark's return over the same span:
  - with `panel.benchmark_open`: benchmark_open[t+1+h] / benchmark_open[t+1] - 1 (same bars);
  - without it (the Panel's benchmark is a close series): close[t+h] / close[t] - 1. That is the
    closest close-only proxy: it spans the same h bars but starts/ends one overnight gap earlier.
`downside_event` flags paths that fell more than k vol-scaled sigmas below the entry price.

A label at t reads bars t+1 .. t+1+h (`label_horizon_bars(h)` = h + 1 bars into the future: the
purge/embargo a walk-forward split needs). It is NaN when any of those bars is missing for the
name, or the benchmark value it needs is missing, and for the last h+1 rows. Framework-free.
"""

from __future__ import annotations

import numpy as np

from .features.ops import rmin, rstd, shift
from .panel import Panel


def label_horizon_bars(horizon: int) -> int:
    """Bars after t that a label at t reads (entry open at t+1 through exit open at t+1+horizon)."""
    _check_horizon(horizon)
    return horizon + 1


def _check_horizon(horizon: int) -> None:
    if not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer number of bars, got {horizon!r}")


def _lead(x: np.ndarray, k: int) -> np.ndarray:
    """x[t + k] at row t (NaN for the last k rows). Only labels may look ahead; features never do."""
    out = np.full(x.shape, np.nan)
    if k < len(x):
        out[: len(x) - k] = x[k:]
    return out


def _future_path_complete(panel: Panel, horizon: int) -> np.ndarray:
    """(T, N) bool: the name has a bar at every one of t+1 .. t+1+horizon."""
    has_bar = panel.has_bar
    cs = np.concatenate([np.zeros((1, has_bar.shape[1])), np.cumsum(has_bar, axis=0, dtype=np.float64)])
    span = horizon + 1
    count = _lead(cs, 1 + span)[: len(has_bar)] - cs[1 : len(has_bar) + 1]
    # count[t] = bars in rows t+1 .. t+span  (cs[t+1+span] - cs[t+1])
    return count == span


def forward_excess_return(panel: Panel, horizon: int = 5) -> np.ndarray:
    """(T, N) float64: open-to-open forward return over `horizon` bars from t+1, minus the benchmark's."""
    _check_horizon(horizon)
    entry = _lead(panel.open, 1)
    exit_ = _lead(panel.open, 1 + horizon)
    stock = exit_ / entry - 1.0
    if panel.benchmark_open is not None:
        bench = _lead(panel.benchmark_open, 1 + horizon) / _lead(panel.benchmark_open, 1) - 1.0
    else:
        bench = _lead(panel.benchmark, horizon) / panel.benchmark - 1.0
    out = stock - bench[:, None]
    out[~_future_path_complete(panel, horizon)] = np.nan
    return out


def downside_event(panel: Panel, horizon: int = 5, k: float = 2.0, vol_window: int = 20) -> np.ndarray:
    """(T, N) float64: 1.0 when the held path fell below entry * (1 - k * vol_t * sqrt(horizon)).

    The path is every bar held: the LOWS of bars t+1 .. t+horizon (an intrabar drop is what a stop
    would see, so lows rather than closes) and the exit open at t+1+horizon. vol_t is the std of
    the last `vol_window` 1-bar log close returns, known at t. 0.0 otherwise; NaN when vol_t or any
    path bar is missing."""
    _check_horizon(horizon)
    if not k > 0:
        raise ValueError(f"k must be positive, got {k!r}")
    if not isinstance(vol_window, int | np.integer) or vol_window < 2:
        raise ValueError(f"vol_window must be an integer >= 2, got {vol_window!r}")
    log_close = np.log(panel.close)
    vol = rstd(log_close - shift(log_close, 1), vol_window, min_count=vol_window)  # a full window
    entry = _lead(panel.open, 1)
    path_low = np.fmin(_lead(rmin(panel.low, horizon), horizon), _lead(panel.open, 1 + horizon))
    drawdown = path_low / entry - 1.0
    threshold = -k * vol * np.sqrt(horizon)
    out = (drawdown < threshold).astype(np.float64)
    out[~(_future_path_complete(panel, horizon) & np.isfinite(vol))] = np.nan
    return out
