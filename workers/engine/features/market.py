"""Market context: the benchmark's trend and volatility regime, and breadth of the universe.

One value per bar, broadcast to every name (kind "market": NaN where the name has no bar). Breadth
counts only universe members with a bar at t, so it is point-in-time like the membership itself."""

from __future__ import annotations

import numpy as np

from .context import FeatureContext
from .ops import safe_div, xs_mean
from .price import close_ma
from .registry import feature


def _register_mkt_ret(k: int) -> None:
    @feature(f"mkt_ret_{k}", lookback=k, kind="market")
    def mkt_ret(ctx: FeatureContext) -> np.ndarray:
        """Benchmark log return over the last k bars."""
        return ctx.broadcast(ctx.now(ctx.bench_log) - ctx.lagged(ctx.bench_log, k))


for _k in (1, 5, 20):
    _register_mkt_ret(_k)


def _register_mkt_ma(w: int) -> None:
    @feature(f"mkt_dist_ma_{w}", lookback=w - 1, kind="market")
    def mkt_dist_ma(ctx: FeatureContext) -> np.ndarray:
        """Benchmark close over its w-bar moving average - 1 (trend regime)."""
        b = ctx.benchmark[:, None]
        return ctx.broadcast((safe_div(ctx.now(b), ctx.window("mean", b, w)) - 1.0)[:, 0])


for _w in (50, 200):
    _register_mkt_ma(_w)


def _bench_vol(ctx: FeatureContext, w: int) -> np.ndarray:
    return ctx.memo(f"bench_vol_{w}", lambda: ctx.window("std", ctx.bench_ret[:, None], w)[:, 0])


@feature("mkt_vol_20", lookback=20, kind="market")
def mkt_vol_20(ctx: FeatureContext) -> np.ndarray:
    """Benchmark realised vol over 20 bars."""
    return ctx.broadcast(_bench_vol(ctx, 20))


@feature("mkt_vol_regime", lookback=120, kind="market")
def mkt_vol_regime(ctx: FeatureContext) -> np.ndarray:
    """Benchmark 20-bar over 120-bar realised vol (> 1: a stressed regime)."""
    return ctx.broadcast(safe_div(_bench_vol(ctx, 20), _bench_vol(ctx, 120)))


def _register_breadth(w: int) -> None:
    @feature(f"breadth_ma_{w}", lookback=w - 1, kind="market")
    def breadth(ctx: FeatureContext) -> np.ndarray:
        """Share of universe members (with a bar) whose close is above their own w-bar average."""
        ma = close_ma(ctx, w)
        above = (ctx.close[ctx.rows] > ma).astype(np.float64)
        return ctx.broadcast(ctx.cross(xs_mean, np.where(np.isfinite(ma), above, np.nan)))


for _w in (50, 200):
    _register_breadth(_w)


@feature("advance_decline", lookback=1, kind="market")
def advance_decline(ctx: FeatureContext) -> np.ndarray:
    """(advancers - decliners) / names with a 1-bar return, among universe members."""
    r = ctx.ret
    sign = np.where(np.isfinite(r), np.sign(r), np.nan)
    return ctx.broadcast(ctx.cross(xs_mean, sign))


@feature("universe_ret_1", lookback=1, kind="market")
def universe_ret_1(ctx: FeatureContext) -> np.ndarray:
    """Equal-weight mean 1-bar log return of the universe."""
    return ctx.broadcast(ctx.cross(xs_mean, ctx.ret))


@feature("universe_ret_20", lookback=20, kind="market")
def universe_ret_20(ctx: FeatureContext) -> np.ndarray:
    """Equal-weight mean 20-bar log return of the universe (members at t)."""
    ret_20 = ctx.now(ctx.log_close) - ctx.lagged(ctx.log_close, 20)
    return ctx.broadcast(ctx.cross(xs_mean, ret_20, rows_taken=True))


@feature("dispersion_1", lookback=1, kind="market")
def dispersion_1(ctx: FeatureContext) -> np.ndarray:
    """Cross-sectional std of 1-bar returns across the universe (stock-picking opportunity)."""
    r = ctx.ret[ctx.rows]
    m = ctx.cross(xs_mean, r, rows_taken=True)
    return ctx.broadcast(np.sqrt(ctx.cross(xs_mean, (r - m[:, None]) ** 2, rows_taken=True)))
