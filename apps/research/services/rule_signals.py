"""Rule strategies as ALPHA panels for the desk's allocators (top-k / optimizer).

Why not workers.engine.rules: that module (landed after this one) builds target-WEIGHT panels for
baselines and peer cross-checks with its own parameters (momentum: lookback/top_k/every; mean
reversion: lookback/top_k/every), while the strategy registry (apps.strategies.registry) defines
momentum by lookback + skip and mean reversion by lookback + entry_z, and a desk strategy must go
through the point-in-time membership mask and the configured allocator. These functions score
names with exactly the registry's parameters, from rows <= t only (the engine's own rolling
operators), and leave sizing to the allocator. Non-members and names without a view get NaN
(never bought).
"""

from __future__ import annotations

import numpy as np

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
