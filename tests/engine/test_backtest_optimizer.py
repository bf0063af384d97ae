"""Integration: the backtest loop driving the real allocators from workers/engine/optimizer."""

import numpy as np
import pytest

from tests.engine.conftest import random_panel
from workers.engine.backtest import BacktestConfig, GovernorConfig, run_backtest
from workers.engine.optimizer import OptimizerAllocator, OptimizerConfig, TopKEqualWeight


def momentum(close: np.ndarray) -> np.ndarray:
    alpha = np.full(close.shape, np.nan)
    alpha[10:] = (close[10:] / close[:-10] - 1.0) * 1e-2
    return alpha


@pytest.mark.parametrize(
    "allocator",
    [
        OptimizerAllocator(OptimizerConfig(max_weight=0.15, min_adv_dollar=0.0, min_obs=15, n_factors=3)),
        TopKEqualWeight(k=5, max_weight=0.15),
    ],
    ids=["optimizer", "topk"],
)
def test_allocators_drive_the_loop_within_the_caps(allocator):
    panel = random_panel(21, T=80, N=12)
    config = BacktestConfig(
        initial_cash=1e6,
        max_weight=0.15,
        rebalance_every=5,
        returns_window=30,
        governor=GovernorConfig(conservative_dd=0.04, risk_off_dd=0.06, halt_dd=0.08, recover_dd=0.01),
    )
    r = run_backtest(panel, config, allocator=allocator, alpha=momentum(panel.close))
    assert len(r.allocation_log) == len(range(0, 79, 5))
    assert all(
        status in ("optimal", "optimal_inaccurate", "baseline", "fallback_hold", "fallback_scaled")
        for _, status, _ in r.allocation_log
    )
    assert np.count_nonzero(r.fills) > 0
    assert (r.cash >= 0).all() and (r.positions >= 0).all()
    tw = r.target_weights
    assert np.nanmax(tw) <= 0.15 + 1e-9
    assert (np.nansum(tw, axis=1) <= r.exposure_cap + 1e-9).all()
    # names that are not members are never targeted
    assert np.nansum(np.where(panel.member, 0.0, np.nan_to_num(tw))) == 0.0
