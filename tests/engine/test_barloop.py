"""The compiled bar loop's own pieces: its cost formula is the cost model's, its governor keeps to
the transition table, bad targets are named, and the compiled code is cached on disk."""

from pathlib import Path

import numpy as np
import pytest
from numba.core import caching
from numba.core import config as numba_config

from tests.engine.conftest import make_panel, random_panel
from workers.engine.backtest import (
    BacktestConfig,
    BacktestInputError,
    GovernorError,
    barloop,
    jit,
    run_backtest,
)
from workers.engine.backtest import simulator as simulator_module
from workers.engine.costs import CostModel


@pytest.mark.parametrize(
    "costs",
    [
        CostModel(),
        CostModel(impact_eta=0.0),
        CostModel(commission_per_share=0.005, commission_min=1.0),
        CostModel(slippage_bps=3.0, half_spread_bps=2.0, impact_eta=1.5, commission_per_share=0.01),
        CostModel.zero(),
    ],
)
def test_the_loop_charges_what_the_cost_model_says(costs):
    rng = np.random.default_rng(0)
    qty = np.concatenate([[0.0, 1.0], rng.uniform(0, 5e4, 200)])
    price = rng.uniform(1, 500, len(qty))
    coef = rng.uniform(0, 1e-3, len(qty))
    cm = (
        costs.linear_rate,
        costs.impact_eta > 0,
        bool(costs.commission_per_share or costs.commission_min),
        costs.commission_per_share,
        costs.commission_min,
    )
    loop = np.array([barloop.fill_cost(q, p, c, cm) for q, p, c in zip(qty, price, coef, strict=True)])
    np.testing.assert_allclose(loop, costs.total(qty, price, coef), rtol=1e-14, atol=0)
    assert loop[0] == 0.0  # no fill, no commission


def test_infinite_targets_are_named():
    panel = make_panel(np.full((3, 2), 10.0))
    with pytest.raises(BacktestInputError, match="S1 at row 1 is infinite"):
        run_backtest(panel, targets=np.array([[0.1, 0.1], [0.1, np.inf], [0.1, 0.1]]))


def test_the_loop_refuses_a_governor_move_outside_the_table(monkeypatch):
    # a table without normal -> conservative: the first drawdown past 10% must be refused
    allowed = simulator_module.GOVERNOR_ALLOWED.copy()
    allowed[0, 1] = False
    monkeypatch.setattr(simulator_module, "GOVERNOR_ALLOWED", allowed)
    prices = 100 * 0.95 ** np.arange(10)
    panel = make_panel(prices)
    with pytest.raises(GovernorError, match="normal -> conservative at bar 4"):
        run_backtest(panel, BacktestConfig(costs=CostModel.zero()), targets=np.full(panel.shape, 1.0))


def test_the_compiled_loop_is_cached_on_disk():
    run_backtest(random_panel(1, T=10, N=2), targets=np.full((10, 2), 0.5))
    cache = barloop.run_bars._cache
    assert isinstance(cache, caching.FunctionCache)
    index = Path(cache._cache_file._index_path)
    assert index.parent == Path(cache.cache_path) and index.exists(), index


def test_the_cache_falls_back_to_the_temp_directory_when_nothing_else_is_writable(monkeypatch, tmp_path):
    # Only the user-provided locator is left, and no directory is provided: numba's own order
    # (source tree, then user cache) has nowhere to write, as in a read-only image.
    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [caching.UserProvidedCacheLocator])
    monkeypatch.setattr(numba_config, "CACHE_DIR", "")
    monkeypatch.setattr(jit, "fallback_cache_dir", lambda: tmp_path)

    def add_one(x):
        return x + 1

    compiled = jit.jit(add_one)
    assert compiled(1) == 2
    assert numba_config.CACHE_DIR == str(tmp_path)
    assert list(tmp_path.rglob("*.nbi")), "nothing was cached in the fallback directory"


def test_every_compiled_function_the_loop_calls_lives_in_its_file():
    # numba's disk cache notices changes to the cached function's own file only: a compiled helper
    # imported from another file could change while the cached loop kept the old machine code.
    from numba.core.registry import CPUDispatcher

    compiled = {name: f for name, f in vars(barloop).items() if isinstance(f, CPUDispatcher)}
    assert {"run_bars", "send_order", "fill_cost", "target_code", "peak_drawdown"} <= set(compiled)
    assert {f.py_func.__module__ for f in compiled.values()} == {barloop.__name__}
