"""Engine pieces the research desk needs that workers/engine does not provide yet (rules.py,
labels.py, metrics.py were announced but had not landed when this adapter was written).

Kept deliberately small and on the research side of the boundary so nothing here leaks into the
engine; each function has the obvious engine twin to switch to once it exists (see the report of
the research part). Built only from the engine's own rolling operators so NaN handling matches
the feature library.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from workers.engine.features.ops import rmean, rstd, shift
from workers.engine.panel import Panel

# --- rule signals: (T, N) alpha, NaN = no view (never bought); non-members get NaN -------------


def _members_only(panel: Panel, alpha: np.ndarray) -> np.ndarray:
    return np.where(panel.member & np.isfinite(alpha), alpha, np.nan)


def ma_crossover_alpha(panel: Panel, *, fast: int, slow: int) -> np.ndarray:
    """Long names whose fast SMA is above the slow SMA; score = how far above (fast/slow - 1)."""
    spread = rmean(panel.close, fast) / rmean(panel.close, slow) - 1.0
    with np.errstate(invalid="ignore"):
        return _members_only(panel, np.where(spread > 0, spread, np.nan))


def momentum_alpha(panel: Panel, *, lookback: int, skip: int) -> np.ndarray:
    """Trailing log return from t-lookback to t-skip (skipping the short-term reversal window)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_close = np.log(panel.close)
    return _members_only(panel, shift(log_close, skip) - shift(log_close, lookback))


def mean_reversion_alpha(panel: Panel, *, lookback: int, entry_z: float) -> np.ndarray:
    """Long names more than entry_z standard deviations below their lookback mean; score = -z."""
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (panel.close - rmean(panel.close, lookback)) / rstd(panel.close, lookback)
        return _members_only(panel, np.where(z < -entry_z, -z, np.nan))


RULES = {
    "ma_crossover": ma_crossover_alpha,
    "momentum": momentum_alpha,
    "mean_reversion": mean_reversion_alpha,
}


# --- labels ------------------------------------------------------------------------------------


def forward_labels(panel: Panel, *, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(target, downside), both (T, N) and known only at t + horizon:
    target = forward `horizon`-bar log return minus its cross-sectional mean over members (the
    market-wide move a long-only ranker cannot use); downside = 1.0 when the forward return is in
    the bottom quintile of members at t, 0.0 otherwise, NaN where the target is unknown."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_close = np.log(panel.close)
    # Labels are the one place that reads the future on purpose (the engine's shift refuses it).
    fwd = np.full_like(log_close, np.nan)
    fwd[:-horizon] = log_close[horizon:] - log_close[:-horizon]
    valid = panel.member & np.isfinite(fwd)
    masked = np.where(valid, fwd, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows (no member) stay NaN
        target = masked - np.nanmean(masked, axis=1, keepdims=True)
        q20 = np.nanquantile(masked, 0.2, axis=1, keepdims=True)
    downside = np.where(valid, (masked <= q20).astype(np.float64), np.nan)
    return np.where(valid, target, np.nan), downside


# --- performance metrics -------------------------------------------------------------------------


def drawdown_series(equity: np.ndarray) -> np.ndarray:
    """(T,) drawdown as a positive fraction below the running peak."""
    peak = np.maximum.accumulate(equity)
    return 1.0 - equity / peak


def _max_dd_duration(dd: np.ndarray) -> int:
    longest = run = 0
    for under in dd > 1e-12:
        run = run + 1 if under else 0
        longest = max(longest, run)
    return longest


def performance_metrics(
    *,
    equity: np.ndarray,
    initial: float,
    periods_per_year: int,
    benchmark: np.ndarray | None = None,
    turnover: np.ndarray | None = None,
    exposure: np.ndarray | None = None,
    cost_paid: np.ndarray | None = None,
) -> dict[str, float]:
    """The standard set over one equity curve (simple returns; Sharpe with zero risk-free rate)."""
    equity = np.asarray(equity, dtype=np.float64)
    T = len(equity)
    r = equity / np.concatenate(([initial], equity[:-1])) - 1.0
    years = T / periods_per_year
    total = float(equity[-1] / initial - 1.0)
    sd = float(r.std(ddof=1)) if T > 1 else float("nan")
    down = r[r < 0]
    dd = drawdown_series(np.concatenate(([initial], equity)))
    max_dd = float(dd.max())
    cagr = (
        float((equity[-1] / initial) ** (1.0 / years) - 1.0) if years > 0 and equity[-1] > 0 else float("nan")
    )
    out = {
        "total_return": total,
        "cagr": cagr,
        "volatility": sd * np.sqrt(periods_per_year),
        "sharpe": float(r.mean() / sd * np.sqrt(periods_per_year)) if sd > 0 else float("nan"),
        "sortino": (
            float(r.mean() / np.sqrt((down**2).sum() / T) * np.sqrt(periods_per_year))
            if down.size
            else float("nan")
        ),
        "max_drawdown": max_dd,
        "max_drawdown_bars": _max_dd_duration(dd),
        "calmar": cagr / max_dd if max_dd > 0 else float("nan"),
        "hit_rate": float((r > 0).sum() / max(1, (r != 0).sum())),
        "n_bars": T,
    }
    if turnover is not None:
        out["turnover_annual"] = float(np.nanmean(turnover) * periods_per_year)
    if exposure is not None:
        out["exposure_mean"] = float(np.nanmean(exposure))
    if cost_paid is not None:
        out["cost_drag_annual"] = (
            float(cost_paid.sum() / np.mean(equity) / years) if years > 0 else float("nan")
        )
    if benchmark is not None and np.isfinite(benchmark).sum() > 2:
        b = pd.Series(benchmark).ffill().bfill().to_numpy()
        br = np.concatenate(([0.0], b[1:] / b[:-1] - 1.0))
        active = r - br
        te = float(active.std(ddof=1) * np.sqrt(periods_per_year))
        out["benchmark_return"] = float(b[-1] / b[0] - 1.0)
        out["tracking_error"] = te
        out["information_ratio"] = float(active.mean() * periods_per_year / te) if te > 0 else float("nan")
    return out


def monthly_returns(
    index: np.ndarray, equity: np.ndarray, initial: float, tz: str
) -> dict[str, dict[str, float]]:
    """{year: {month (1-12): return}} from month-end equity (months in the market's time zone)."""
    s = pd.Series(equity, index=pd.DatetimeIndex(index).tz_localize("UTC").tz_convert(tz))
    month_end = s.groupby([s.index.year, s.index.month]).last()
    prev = np.concatenate(([initial], month_end.to_numpy()[:-1]))
    rets = month_end.to_numpy() / prev - 1.0
    out: dict[str, dict[str, float]] = {}
    for (year, month), value in zip(month_end.index, rets, strict=True):
        out.setdefault(str(year), {})[str(month)] = float(value)
    return out
