"""Simple rule strategies: signals and target-weight panels for baselines and peer cross-checks.

Every rule reads rows <= t to produce row t (trailing windows only), so its weights can be fed to
the backtest, which fills at the open of t+1. Weight panels use the backtest convention: a row of
NaN means "no decision at this bar" (positions are held), so a crossover strategy trades only on
its crossings instead of re-balancing drift every bar. The research desk's strategy registry can
reuse them as named baselines.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class RuleError(ValueError):
    """A rule parameter or input that makes no sense, named."""


def _as_2d(close: np.ndarray) -> np.ndarray:
    c = np.asarray(close, dtype=np.float64)
    if c.ndim == 1:
        c = c[:, None]
    if c.ndim != 2:
        raise RuleError(f"close must be (T,) or (T, N), got shape {c.shape}")
    return c


def sma(close: np.ndarray, window: int) -> np.ndarray:
    """Trailing simple moving average (T, N); NaN until `window` bars are available (or when any
    bar in the window is missing). Each window is summed on its own (no running sum), so the value
    at t never depends on rows after t, nor on rounding carried from far earlier rows."""
    if not isinstance(window, int) or window < 1:
        raise RuleError(f"window must be an integer >= 1, got {window!r}")
    c = _as_2d(close)
    out = np.full(c.shape, np.nan)
    if len(c) >= window:
        out[window - 1 :] = sliding_window_view(c, window, axis=0).sum(axis=-1) / window
    return out


def crossovers(fast: np.ndarray, slow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(up, down) bool (T, N): fast crosses above / below slow at t (the sign of fast - slow
    changes between t-1 and t; ties keep the previous sign, as backtrader's CrossOver does)."""
    diff = fast - slow
    sign = np.sign(diff)
    sign[~np.isfinite(diff)] = np.nan
    # carry the last non-zero sign through exact ties
    last = np.where(sign == 0, np.nan, sign)
    ties = sign == 0
    for t in np.flatnonzero(ties.any(axis=1)):
        if t > 0:
            last[t, ties[t]] = last[t - 1, ties[t]]
    up = np.zeros(diff.shape, dtype=bool)
    down = np.zeros(diff.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        up[1:] = (last[:-1] < 0) & (diff[1:] > 0)
        down[1:] = (last[:-1] > 0) & (diff[1:] < 0)
    return up, down


def ma_crossover_weights(close: np.ndarray, *, fast: int = 10, slow: int = 30) -> np.ndarray:
    """Long-only MA crossover, all-in per name split equally across names: enter when the fast SMA
    crosses above the slow one, exit when it crosses below. Rows without any crossing are NaN (no
    decision); on a decision row each name gets 1/N if it is (or becomes) long, else 0."""
    if fast >= slow:
        raise RuleError(f"fast window ({fast}) must be shorter than slow window ({slow})")
    c = _as_2d(close)
    up, down = crossovers(sma(c, fast), sma(c, slow))
    T, N = c.shape
    state = np.zeros(N)
    weights = np.full((T, N), np.nan)
    for t in np.flatnonzero(up.any(axis=1) | down.any(axis=1)):
        state = np.where(up[t], 1.0, np.where(down[t], 0.0, state))
        weights[t] = state / N
    return weights


def momentum_weights(
    close: np.ndarray, *, lookback: int = 60, top_k: int = 10, every: int = 20
) -> np.ndarray:
    """Cross-sectional momentum: every `every` bars, equal weight on the `top_k` names with the
    highest trailing `lookback`-bar return (names without a full window are skipped)."""
    return _ranked_weights(close, lookback=lookback, top_k=top_k, every=every, descending=True)


def mean_reversion_weights(
    close: np.ndarray, *, lookback: int = 5, top_k: int = 10, every: int = 5
) -> np.ndarray:
    """Short-term reversal: every `every` bars, equal weight on the `top_k` worst trailing
    `lookback`-bar performers."""
    return _ranked_weights(close, lookback=lookback, top_k=top_k, every=every, descending=False)


def _ranked_weights(
    close: np.ndarray, *, lookback: int, top_k: int, every: int, descending: bool
) -> np.ndarray:
    for name, value in (("lookback", lookback), ("top_k", top_k), ("every", every)):
        if not isinstance(value, int) or value < 1:
            raise RuleError(f"{name} must be an integer >= 1, got {value!r}")
    c = _as_2d(close)
    T, N = c.shape
    past = np.full(c.shape, np.nan)
    past[lookback:] = c[lookback:] / c[:-lookback] - 1.0
    weights = np.full((T, N), np.nan)
    for t in range(lookback, T, every):
        score = past[t] if descending else -past[t]
        ok = np.flatnonzero(np.isfinite(score))
        row = np.zeros(N)
        if len(ok):
            chosen = ok[np.argsort(-score[ok], kind="stable")[:top_k]]
            row[chosen] = 1.0 / len(chosen)
        weights[t] = row
    return weights
