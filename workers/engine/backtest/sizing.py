"""How target weights become orders in shares: one definition for the backtest's allocator path
(simulator.py) and the live kernel (decide/kernel.py), so a paper account sends the orders the
backtest would send from the same weights, positions and equity.

- `target_shares`: weight x equity x (1 - cash_buffer) / close_t, floored in integer mode;
- `decision_orders`: target - positions through the compiled loop's own `send_order` (the no-trade
  band `min_order_value` and no buys while the governor forbids them), on a one-bar array;
- `loop_settings`: the config as the compiled loop's flat arrays.
"""

from __future__ import annotations

import numpy as np

from . import barloop
from .config import BacktestConfig


def loop_settings(config: BacktestConfig, fast: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The config as the compiled loop's flat arrays (barloop P_*, F_*, G_*)."""
    costs = config.costs
    par = np.zeros(barloop.P_SIZE)
    par[barloop.P_INVEST] = 1.0 - config.cash_buffer
    par[barloop.P_MAX_WEIGHT] = config.max_weight
    par[barloop.P_MIN_ORDER] = config.min_order_value
    par[barloop.P_LIN_RATE] = costs.linear_rate
    par[barloop.P_CPS] = costs.commission_per_share
    par[barloop.P_CMIN] = costs.commission_min
    flags = np.zeros(barloop.F_SIZE, dtype=np.int64)
    flags[barloop.F_FAST] = fast
    flags[barloop.F_INTEGER] = config.integer_shares
    flags[barloop.F_CARRY] = config.remainder == "carry"
    flags[barloop.F_IMPACT] = costs.impact_eta > 0
    flags[barloop.F_COMMISSION] = bool(costs.commission_per_share or costs.commission_min)
    flags[barloop.F_GOVERNOR] = config.governor is not None
    gov = np.zeros(barloop.G_SIZE)
    if config.governor is not None:
        gov[barloop.G_THRESHOLDS : barloop.G_THRESHOLDS + 4] = config.governor.thresholds
        gov[barloop.G_EXPOSURES : barloop.G_EXPOSURES + 4] = config.governor.exposures
    return par, flags, gov


def target_shares(
    weights: np.ndarray, *, equity: float, inv_mark_t: np.ndarray, config: BacktestConfig
) -> np.ndarray:
    """(N,) target positions in shares for target weights decided at the close of t."""
    tgt = weights * (equity * (1.0 - config.cash_buffer)) * inv_mark_t
    if config.integer_shares:
        np.floor(tgt, out=tgt)
    return tgt


def decision_orders(
    weights: np.ndarray,
    *,
    positions: np.ndarray,
    equity: float,
    mark_t: np.ndarray,
    inv_mark_t: np.ndarray,
    config: BacktestConfig,
    allow_buys: bool,
) -> np.ndarray:
    """(N,) signed share orders (buy > 0) the backtest sends at the close of t for `weights`."""
    n = len(positions)
    positions = np.ascontiguousarray(positions, dtype=np.float64)
    tgt = target_shares(
        np.asarray(weights, dtype=np.float64), equity=equity, inv_mark_t=inv_mark_t, config=config
    )
    par, flags, _ = loop_settings(config, False)
    state = np.zeros(barloop.S_SIZE)
    state[barloop.S_ALLOW] = 1.0 if allow_buys else 0.0
    orders = np.zeros((1, n))
    pending = np.zeros(n)
    mark = np.ascontiguousarray(np.asarray(mark_t, dtype=np.float64)[None, :])
    barloop.send_order(0, tgt - positions, mark, positions.copy(), pending, par, flags, state, orders, True)
    return orders[0]
