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


def default_min_count(window: int) -> int:
    """Valid values a window needs: all of a short window, 90% of a window of 10+ bars."""
    return window if window < 10 else window - window // 10


def _moving(fn, x: np.ndarray, window: int, min_count: int | None, **kw) -> np.ndarray:
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    need = min_count or default_min_count(window)
    if window > len(x):
        # Fewer rows than one window: the rows before the first are missing values, exactly as
        # they are at the top of a longer array, so row t has the same value whether the array
        # ends at t (the live kernel's panel up to t) or runs on (the backtest's whole panel).
        pad = np.full((window - len(x),) + x.shape[1:], np.nan)
        return fn(np.concatenate([pad, x]), window, min_count=need, axis=0, **kw)[len(pad) :]
    return fn(x, window, min_count=need, axis=0, **kw)


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


def last_window(
    op: str, x: np.ndarray, window: int, min_count: int | None = None, lag: int = 0
) -> np.ndarray:
    """(1, ...) the rolling `op` at the LAST row only (over rows -window-lag .. -1-lag): what the
    matching rolling function gives at its last row, for the live update without the other rows."""
    if lag < 0:
        raise ValueError(f"lag {lag} would read the future")
    need = min_count or default_min_count(window)
    if window + lag > len(x):  # a partial window (the top of the data): held to min_count like the rolling op
        win = x[: max(0, len(x) - lag)]
        count = np.isfinite(win).sum(axis=0)
        if not len(win) or (count < need).all():
            return np.full((1,) + x.shape[1:], np.nan)
        return np.where(count >= need, _NAN_REDUCERS[op](win), np.nan)[None]
    win = x[len(x) - window - lag : len(x) - lag]
    # Fast path: a plain reduction (NaN wherever the window has a gap); only columns with a gap are
    # recomputed NaN-aware and held to min_count. Same values as the rolling op's last row.
    value = _PLAIN_REDUCERS[op](win)
    gaps = np.isnan(value)
    if gaps.any():
        sub = win[:, gaps]
        count = np.isfinite(sub).sum(axis=0)
        value[gaps] = np.where(count >= need, _NAN_REDUCERS[op](sub), np.nan)
    return value[None]


ROLLING = {"mean": rmean, "std": rstd, "max": rmax, "min": rmin, "sum": rsum}
_PLAIN_REDUCERS = {
    "mean": lambda w: w.mean(axis=0),
    "std": lambda w: w.std(axis=0, ddof=1),
    "max": lambda w: w.max(axis=0),
    "min": lambda w: w.min(axis=0),
    "sum": lambda w: w.sum(axis=0),
}
_NAN_REDUCERS = {
    "mean": lambda w: bn.nanmean(w, axis=0),
    "std": lambda w: bn.nanstd(w, axis=0, ddof=1),
    "max": lambda w: bn.nanmax(w, axis=0),
    "min": lambda w: bn.nanmin(w, axis=0),
    "sum": lambda w: bn.nansum(w, axis=0),
}


def safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b with NaN (not inf, not a warning) where b is 0 or either side is NaN."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    out = np.full(np.broadcast_shapes(a.shape, b.shape), np.nan)
    np.divide(a, b, out=out, where=b != 0)  # NaN operands give NaN without a warning
    out[np.isinf(out)] = np.nan  # overflow of a huge ratio
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
    ranks = row_ranks(masked)
    count = np.isfinite(masked).sum(axis=1, keepdims=True).astype(np.float64)
    return safe_div(ranks, np.broadcast_to(count, ranks.shape))


def row_ranks(a: np.ndarray) -> np.ndarray:
    """1-based ranks along each row of a 2-D float64 array, ties averaged, NaN for NaN: exactly
    `bn.nanrankdata(a, axis=1)`, ~2x faster on (T, 500) panels.

    Why not bottleneck: its argsort sees the NaNs, which push numpy's argsort off its SIMD path
    (3x slower). Here NaN sorts as +inf (so a row containing a real +inf falls back to bottleneck),
    and a tie group spanning sorted positions first..last gets (first + last) / 2 + 1, the exact
    value bottleneck's sum-of-ranks / count gives (an integer or a half)."""
    if a.ndim != 2:
        raise ValueError(f"row_ranks needs a 2-D array, got shape {a.shape}")
    T, N = a.shape
    if T == 0 or N == 0 or np.isposinf(a).any():
        return bn.nanrankdata(a, axis=1)
    nan = np.isnan(a)
    key = np.where(nan, np.inf, a)
    order = np.argsort(key, axis=1)
    s = np.take_along_axis(key, order, axis=1)
    cols = np.arange(N)
    defined = cols < (N - nan.sum(axis=1, keepdims=True))  # sorted positions of non-NaN values
    ranked = np.where(defined, cols + 1.0, np.nan)  # right wherever there is no tie
    tied = np.zeros((T, N), dtype=bool)  # sorted position j holds the value at j - 1
    np.equal(s[:, 1:], s[:, :-1], out=tied[:, 1:])
    tied &= defined
    rows = np.flatnonzero(tied.any(axis=1))
    if rows.size:  # average the tie groups, only on rows that have one
        starts = ~tied[rows]
        ends = np.ones_like(starts)
        ends[:, :-1] = starts[:, 1:]
        first = np.maximum.accumulate(np.where(starts, cols, 0), axis=1)
        last = np.minimum.accumulate(np.where(ends, cols, N)[:, ::-1], axis=1)[:, ::-1]
        ranked[rows] = np.where(defined[rows], (first + last) * 0.5 + 1.0, np.nan)
    out = np.empty((T, N))
    np.put_along_axis(out, order, ranked, axis=1)
    return out


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

    One bincount over (row, sector) cells: sector means for every bar without a loop."""
    T, _ = x.shape
    known = sector >= 0
    ok = valid & np.isfinite(x) & known[None, :]
    if not known.any():
        return np.full(x.shape, np.nan)
    S = int(sector.max()) + 1
    cell = np.arange(T)[:, None] * S + np.where(known, sector, 0)[None, :]
    sums = np.bincount(cell[ok], weights=x[ok], minlength=T * S)
    counts = np.bincount(cell[ok], minlength=T * S)
    mean = safe_div(sums, counts.astype(np.float64))
    return np.where(ok, x - mean[cell], np.nan)
