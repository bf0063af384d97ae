"""Cross-sectional features: where a name stands among the universe members at the same bar.

Ranks (percentile in (0, 1]), z-scores and GICS-sector-demeaned values of key time-series features,
computed over members with a bar at t only (a non-member's value never moves a member's rank). A bar
with an empty universe yields NaN for the whole row, without warnings."""

from __future__ import annotations

import numpy as np

from . import price, risk, volume  # noqa: F401  (the base features must be registered first)
from .context import FeatureContext
from .ops import sector_demean, xs_rank, xs_zscore
from .registry import FEATURES, feature

# Ranks (robust to outliers, ~10x the cost of a z-score) for returns and the skewed size/liquidity
# measures; z-scores for already well-scaled oscillators and log ratios.
RANKED = ("ret_1", "ret_5", "ret_20", "ret_60", "mom_60_5", "rvol_20", "adv_20_log", "amihud_20")
ZSCORED = ("ret_5", "ret_20", "rvol_20", "beta_60", "volume_surprise_20", "dist_ma_50", "rsi_14")
SECTOR_RELATIVE = ("ret_5", "ret_20", "rvol_20", "dist_ma_50")


def _register(prefix: str, base: str, op) -> None:
    spec = FEATURES[base]

    doc = f"{prefix} of {base} across universe members at t"

    @feature(f"{prefix}_{base}", lookback=spec.lookback, kind="cross_sectional", doc=doc, depends=(base,))
    def xs(ctx: FeatureContext) -> np.ndarray:
        return op(ctx, ctx.feature(base))


for _b in RANKED:
    _register("rank", _b, lambda ctx, x: ctx.cross(xs_rank, x))
for _b in ZSCORED:
    _register("z", _b, lambda ctx, x: ctx.cross(xs_zscore, x))
for _b in SECTOR_RELATIVE:
    _register("sect", _b, lambda ctx, x: ctx.cross(sector_demean, x, ctx.sector))
