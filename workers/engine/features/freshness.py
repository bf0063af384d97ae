"""Freshness: how recent and complete a name's data is. Defined at every (t, n), with or without a
bar, because a missing bar is exactly what these features describe. Counts are capped so that the
value at t depends on a finite window (live and batch agree)."""

from __future__ import annotations

import numpy as np

from .context import FeatureContext
from .ops import shift
from .registry import feature

STALE_CAP = 20


def _bars_since(valid: np.ndarray, cap: int) -> np.ndarray:
    """Bars since the last True at or before t, capped at cap + 1 (meaning "more than cap")."""
    t = np.arange(len(valid), dtype=np.float64)[:, None]
    last = np.maximum.accumulate(np.where(valid, t, -np.inf), axis=0)
    return np.minimum(t - last, cap + 1.0)


@feature("bars_since_bar", lookback=STALE_CAP, kind="freshness")
def bars_since_bar(ctx: FeatureContext) -> np.ndarray:
    """Bars since the last valid price (0 with a bar at t; 21 = none in the last 20 bars)."""
    return _bars_since(ctx.has_bar, STALE_CAP)


@feature("prev_bar_gap", lookback=STALE_CAP + 1, kind="freshness")
def prev_bar_gap(ctx: FeatureContext) -> np.ndarray:
    """For a bar at t: bars back to the previous bar (1 = consecutive, 22 = none in 21 bars).
    NaN without a bar at t."""
    gap = 1.0 + shift(_bars_since(ctx.has_bar, STALE_CAP), 1)
    return np.where(ctx.has_bar, gap, np.nan)


@feature("stale_price", lookback=1, kind="freshness")
def stale_price(ctx: FeatureContext) -> np.ndarray:
    """1.0 when the bar looks like a carried-forward quote (zero volume, or O=H=L=C equal to the
    previous close); 0.0 for a normal bar; NaN without a bar."""
    o, h, low, c = (ctx.now(a) for a in (ctx.open, ctx.high, ctx.low, ctx.close))
    flat = (o == h) & (h == low) & (low == c)
    stale = (ctx.now(ctx.volume) == 0) | (flat & (c == ctx.lagged(ctx.close, 1)))
    return np.where(ctx.now(ctx.has_bar), stale.astype(np.float64), np.nan)


@feature("coverage_20", lookback=19, kind="freshness")
def coverage_20(ctx: FeatureContext) -> np.ndarray:
    """Share of the last 20 bars with a bar."""
    return ctx.window("sum", ctx.has_bar.astype(np.float64), 20) / 20.0


@feature("coverage_250", lookback=249, kind="freshness")
def coverage_250(ctx: FeatureContext) -> np.ndarray:
    """Share of the last 250 bars with a bar (young listings and long halts score low)."""
    return ctx.window("sum", ctx.has_bar.astype(np.float64), 250) / 250.0


@feature("member_share_250", lookback=249, kind="freshness")
def member_share_250(ctx: FeatureContext) -> np.ndarray:
    """Share of the last 250 bars the name was an index member (recent additions score low)."""
    return ctx.window("sum", ctx.member.astype(np.float64), 250) / 250.0
