"""Per-panel arrays the simulator needs, precomputed once and vectorised over the whole panel.

Everything here at row t uses rows <= t only (rolling windows end at t; the impact coefficient of
a fill at t uses the volatility known at t-1 and the fill bar's own volume), so the bar loop reads
the fill row t+1 only for the fill itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..panel import Panel
from .config import BacktestConfig


def rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing window sums down axis 0 via a cumulative sum (NaN must be zeroed by the caller)."""
    c = np.cumsum(x, axis=0)
    out = c.copy()
    out[window:] -= c[:-window]
    return out


def rolling_std(x: np.ndarray, window: int, *, min_periods: int = 2) -> np.ndarray:
    """Trailing sample std (ddof=1) over the last `window` rows ignoring NaN; NaN below min_periods.

    Cumulative sums make this one pass over (T, N) instead of a pandas rolling per column. No
    centring by a full-sample mean: that would leak later rows into row t. For bar returns (mean
    ~0) the cancellation error of the cumulative sums is ~1e-13 relative, irrelevant for costs."""
    finite = np.isfinite(x)
    z = np.where(finite, x, 0.0)
    n = rolling_sum(finite.astype(np.float64), window)
    s1 = rolling_sum(z, window)
    s2 = rolling_sum(z * z, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = (s2 - s1 * s1 / n) / (n - 1)
    var = np.maximum(var, 0.0)
    return np.where(n >= min_periods, np.sqrt(var), np.nan)


@dataclass(frozen=True, eq=False)
class SimInputs:
    panel: Panel
    config: BacktestConfig
    open0: np.ndarray  # (T, N) open, 0 where no tradable bar (so 0 * price never yields NaN)
    fill_ok: np.ndarray  # (T, N) bool: a fill is possible in bar t (open known, volume > 0)
    cap: np.ndarray  # (T, N) max |shares| filled in bar t (participation x volume; floored if integer)
    volume: np.ndarray  # (T, N) volume, NaN where none
    sigma_prev: np.ndarray  # (T, N) per-bar volatility known at t-1 (for a fill at t); NaN unknown
    # (all NaN when the cost model has no impact: nothing reads it then)
    impact_coef: np.ndarray  # (T, N) cost model impact coefficient of a fill at t
    mark: np.ndarray  # (T, N) close carried forward (last known close), 0 before the first close
    inv_mark: np.ndarray  # (T, N) 1 / mark, 0 where mark is 0

    def matches(self, config: BacktestConfig) -> bool:
        """True when `config` would build the same arrays (the fields they depend on agree)."""
        fields = ("participation", "integer_shares", "sigma_window", "adv_window")
        same = all(getattr(self.config, f) == getattr(config, f) for f in fields)
        return same and self.config.costs.impact_eta == config.costs.impact_eta

    @cached_property
    def returns(self) -> np.ndarray:
        """(T, N) close-to-close returns, NaN where unknown."""
        return close_returns(self.panel.close)

    @cached_property
    def adv_dollar(self) -> np.ndarray:
        """(T, N) mean close x volume over the adv window ending at t (NaN when no bar in it);
        only the allocator path needs it."""
        dv = self.panel.close * self.panel.volume
        finite = np.isfinite(dv)
        w = self.config.adv_window
        n = rolling_sum(finite.astype(np.float64), w)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(n > 0, rolling_sum(np.where(finite, dv, 0.0), w) / n, np.nan)


def ffill_zero(close: np.ndarray) -> np.ndarray:
    """The last known value down axis 0, 0 before the first one (causal: row t uses rows <= t)."""
    finite = np.isfinite(close)
    if finite.all():
        return close.copy()
    rows = np.where(finite, np.arange(len(close))[:, None], -1)
    np.maximum.accumulate(rows, axis=0, out=rows)
    out = np.take_along_axis(close, np.maximum(rows, 0), axis=0)
    out[rows < 0] = 0.0
    return out


def close_returns(close: np.ndarray) -> np.ndarray:
    out = np.full_like(close, np.nan)
    out[1:] = close[1:] / close[:-1] - 1.0
    return out


def build_inputs(panel: Panel, config: BacktestConfig) -> SimInputs:
    open_, close, volume = panel.open, panel.close, panel.volume
    with np.errstate(invalid="ignore"):
        fill_ok = np.isfinite(open_) & (volume > 0)
    open0 = np.where(fill_ok, open_, 0.0)
    cap = np.where(fill_ok, config.participation * np.where(fill_ok, volume, 0.0), 0.0)
    if config.integer_shares:
        cap = np.floor(cap)
    mark = ffill_zero(close)
    safe = np.where(mark > 0, mark, 1.0)
    inv_mark = np.where(mark > 0, 1.0 / safe, 0.0)
    sigma_prev = np.full_like(close, np.nan)
    if config.costs.impact_eta:  # without impact no volatility is needed: skip the rolling pass
        sigma_prev[1:] = rolling_std(close_returns(close), config.sigma_window)[:-1]
    return SimInputs(
        panel=panel,
        config=config,
        open0=open0,
        fill_ok=fill_ok,
        cap=cap,
        volume=volume,
        sigma_prev=sigma_prev,
        impact_coef=config.costs.impact_coefficient(volume, sigma_prev)
        if config.costs.impact_eta
        else np.zeros_like(close),
        mark=mark,
        inv_mark=inv_mark,
    )
