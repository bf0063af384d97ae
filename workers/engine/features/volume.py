"""Volume and liquidity features: dollar volume, ADV, turnover proxy, Amihud illiquidity, volume
surprise. Zero-volume bars are legal (thin hours); logs and ratios of zero are NaN, not -inf."""

from __future__ import annotations

import numpy as np

from .context import FeatureContext
from .ops import safe_div, safe_log
from .registry import feature

AMIHUD_SCALE = 1e9  # |return| per billion of dollar volume: keeps values O(1) for float32 storage


def adv(ctx: FeatureContext, w: int) -> np.ndarray:
    """Average dollar volume over the last w bars."""
    return ctx.memo(f"adv_{w}", lambda: ctx.window("mean", ctx.dollar_volume, w))


@feature("dollar_volume_log", lookback=0, kind="volume")
def dollar_volume_log(ctx: FeatureContext) -> np.ndarray:
    """log(1 + close * volume) of the bar."""
    return np.log1p(ctx.dollar_volume)


def _register_adv(w: int) -> None:
    @feature(f"adv_{w}_log", lookback=w - 1, kind="volume")
    def adv_log(ctx: FeatureContext) -> np.ndarray:
        """log(1 + average dollar volume over w bars) (liquidity / size proxy)."""
        return np.log1p(adv(ctx, w))


for _w in (20, 60):
    _register_adv(_w)


@feature("turnover_ratio_5_60", lookback=59, kind="volume")
def turnover_ratio_5_60(ctx: FeatureContext) -> np.ndarray:
    """Turnover proxy: log of 5-bar over 60-bar mean share volume. Without shares outstanding (no
    vendor data shipped) turnover is measured against the name's own normal trading."""
    return safe_log(safe_div(ctx.window("mean", ctx.volume, 5), ctx.window("mean", ctx.volume, 60)))


@feature("volume_surprise_20", lookback=20, kind="volume")
def volume_surprise_20(ctx: FeatureContext) -> np.ndarray:
    """log(volume_t / mean volume of the PREVIOUS 20 bars)."""
    return safe_log(safe_div(ctx.now(ctx.volume), ctx.window("mean", ctx.volume, 20, lag=1)))


@feature("amihud_20", lookback=20, kind="volume")
def amihud_20(ctx: FeatureContext) -> np.ndarray:
    """Amihud illiquidity: mean of |r| / dollar volume (x 1e9) over 20 bars, needing >= 10 bars with
    volume (zero-volume bars have no defined price impact and are skipped)."""
    impact = safe_div(np.abs(ctx.ret), ctx.dollar_volume) * AMIHUD_SCALE
    return ctx.window("mean", impact, 20, min_count=10)


@feature("up_volume_share_20", lookback=20, kind="volume")
def up_volume_share_20(ctx: FeatureContext) -> np.ndarray:
    """Share of the last 20 bars' volume traded on up bars (accumulation vs distribution)."""
    r = ctx.ret
    vol = np.where(np.isfinite(r), ctx.volume, np.nan)
    up = vol * (r > 0)  # NaN stays NaN
    return safe_div(ctx.window("sum", up, 20), ctx.window("sum", vol, 20))
