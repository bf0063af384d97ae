"""Rule signals, which workers/engine does not provide yet (rules.py was announced but had not
landed when this adapter was written; labels and metrics come from the engine).

Kept deliberately small and on the research side of the boundary so nothing here leaks into the
engine; each function has the obvious engine twin to switch to once it exists (see the report of
the research part). Built only from the engine's own rolling operators so NaN handling matches
the feature library.
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
