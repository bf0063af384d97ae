"""Vectorised building blocks for features over (T, N) float64 arrays (time on axis 0).

Every operation here is *trailing*: the value at row t reads rows <= t only, and rolling windows are
*finite*: a window of w bars reads exactly rows t-w+1..t. Finite memory is what lets the live loop
recompute the last row from the last `lookback + 1` bars and get the full computation's value
(no exponential smoothing anywhere, on purpose).

Rolling windows tolerate a few missing bars: by default a window of w >= 10 bars needs
w - w // 10 valid values (90%), a shorter window needs all w. One halted day must not blank a
200-bar average for 200 bars, but a name with a thin history gets NaN rather than a statistic over
a handful of bars.
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np


def shift(x: np.ndarray, k: int) -> np.ndarray:
    """x[t - k] at row t (NaN for the first k rows). k >= 0 only: a negative shift would look ahead."""
    if k < 0:
        raise ValueError(f"shift by {k} would read the future")
    out = np.full_like(x, np.nan, dtype=np.float64)
    if k < len(x):
        out[k:] = x[: len(x) - k]
    return out


def _moving(fn, x: np.ndarray, window: int, min_count: int | None, **kw) -> np.ndarray:
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if window > len(x):  # too little history for even one full window: undefined everywhere
        return np.full(x.shape, np.nan)
    if min_count is None:
        min_count = window if window < 10 else window - window // 10
    return fn(x, window, min_count=min_count, axis=0, **kw)


def rmean(x: np.ndarray, window: int, min_count: int | None = None) -> np.ndarray:
    return _moving(bn.move_mean, x, window, min_count)


def rsum(x: np.ndarray, window: int, min_count: int | None = None) -> np.ndarray:
    return _moving(bn.move_sum, x, window, min_count)


def rstd(x: np.ndarray, window: int, min_count: int | None = None) -> np.ndarray:
    """Sample standard deviation (ddof=1) over the trailing window."""
    return _moving(bn.move_std, x, window, min_count, ddof=1)


def rmax(x: np.ndarray, window: int, min_count: int | None = None) -> np.ndarray:
    return _moving(bn.move_max, x, window, min_count)


def rmin(x: np.ndarray, window: int, min_count: int | None = None) -> np.ndarray:
    return _moving(bn.move_min, x, window, min_count)


def rcount(valid: np.ndarray, window: int) -> np.ndarray:
    """Number of True rows among the last `window` (NaN before a full window exists)."""
    return rsum(valid.astype(np.float64), window)


def safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b with NaN (not inf, not a warning) where b is 0 or either side is NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.divide(a, b)
    out[~np.isfinite(out)] = np.nan
    return out


def safe_log(x: np.ndarray) -> np.ndarray:
    """log(x), NaN where x <= 0 or NaN (volume can be zero; prices are validated positive)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(x)
    out[~np.isfinite(out)] = np.nan
    return out


# --- cross-sectional operations: one row (bar) at a time, over the names in `valid` ------------------


def xs_rank(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Percentile rank in (0, 1] within each row among valid finite values (ties averaged).

    A row with no valid value (an empty-universe bar) is all NaN, silently: that is not an error."""
    masked = np.where(valid, x, np.nan)
    ranks = bn.nanrankdata(masked, axis=1)
    count = np.isfinite(masked).sum(axis=1, keepdims=True).astype(np.float64)
    return safe_div(ranks, np.broadcast_to(count, ranks.shape))


def xs_zscore(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(x - row mean) / row std among valid finite values; NaN with fewer than 3 values or zero spread."""
    ok = valid & np.isfinite(x)
    n = ok.sum(axis=1, keepdims=True).astype(np.float64)
    xv = np.where(ok, x, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = xv.sum(axis=1, keepdims=True) / n
        dev = np.where(ok, x - mean, 0.0)
        std = np.sqrt((dev * dev).sum(axis=1, keepdims=True) / (n - 1))
    std[(n < 3) | ~(std > 0)] = np.nan
    return np.where(ok, safe_div(dev, np.broadcast_to(std, dev.shape)), np.nan)


def xs_mean(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(T,) mean over valid finite values of each row; NaN for an empty row."""
    ok = valid & np.isfinite(x)
    n = ok.sum(axis=1).astype(np.float64)
    return safe_div(np.where(ok, x, 0.0).sum(axis=1), n)


def sector_demean(x: np.ndarray, valid: np.ndarray, sector: np.ndarray) -> np.ndarray:
    """x minus the mean of its GICS sector's valid names at the same bar; NaN for unknown sector (-1).

    Loops over the ~11 sectors (not over symbols): each step is a vectorised row mean."""
    out = np.full(x.shape, np.nan)
    ok = valid & np.isfinite(x)
    for s in np.unique(sector[sector >= 0]):
        cols = sector == s
        sub_ok = ok[:, cols]
        sub = x[:, cols]
        mean = xs_mean(sub, sub_ok)
        out[:, cols] = np.where(sub_ok, sub - mean[:, None], np.nan)
    return out
