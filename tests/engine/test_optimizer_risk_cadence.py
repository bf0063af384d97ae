"""Risk model refresh cadence: re-estimated every `risk_model_every` bars from past data only,
and between refreshes the loadings are those of the last refresh, never fitted on later data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from workers.engine.optimizer import OptimizerAllocator, OptimizerConfig, OptimizerConfigError
from workers.engine.optimizer.risk_model import estimate_factor_model

from .test_optimizer import check_constraints, full_config, make_ctx


def history(T: int = 330, n: int = 60, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.01, (T, 3)) @ rng.normal(1, 0.4, (3, n)) + rng.normal(0, 0.015, (T, n))


def ctx_at(t: int, returns: np.ndarray, L: int = 200):
    """The context of bar t: its returns window is rows t-L+1..t of the history, nothing later."""
    return make_ctx(seed=t, t=t, returns_window=returns[t - L + 1 : t + 1])


def fit(window: np.ndarray, cfg: OptimizerConfig):
    return estimate_factor_model(
        window,
        n_factors=cfg.n_factors,
        min_obs=cfg.min_obs,
        default_idio_vol=cfg.default_idio_vol,
        periods_per_year=252,
    )


def test_refresh_every_k_bars_uses_the_window_of_the_refresh_bar_only():
    returns = history()
    cfg = full_config("CLARABEL", risk_model_every=5)
    alloc = OptimizerAllocator(cfg)
    for t in range(250, 262):
        res = alloc.allocate(ctx_at(t, returns))
        assert res.status.startswith("optimal"), res.reason
        refresh_t = 250 + 5 * ((t - 250) // 5)
        assert res.diagnostics["risk_model_t"] == refresh_t
        assert res.diagnostics["risk_refreshed"] == (t == refresh_t)
        expected = fit(returns[refresh_t - 199 : refresh_t + 1], cfg)
        # the model in use is exactly the one fitted at the refresh bar, with data up to it only
        np.testing.assert_array_equal(alloc._model.exposures, expected.exposures)
        np.testing.assert_array_equal(alloc._model.idio_var, expected.idio_var)
        # and the problem holds those loadings (scaled), not a later estimate
        p = alloc._problem
        np.testing.assert_allclose(
            p.loadings_t.value,
            np.sqrt(p.objective_scale * p._risk_weight) / p.unit * expected.exposures.T,
            rtol=1e-12,
        )
    assert alloc.risk_fits == 3  # bars 250, 255, 260


def test_later_data_never_reaches_a_model_between_refreshes():
    """Rewriting every row after the refresh bar changes nothing the allocator sees at the
    non-refresh bars' risk model."""
    returns = history()
    cfg = full_config("CLARABEL", risk_model_every=10)
    changed = returns.copy()
    changed[301:] = np.random.default_rng(5).normal(0, 0.2, changed[301:].shape)
    models = []
    for r in (returns, changed):
        alloc = OptimizerAllocator(cfg)
        alloc.allocate(ctx_at(300, r))
        for t in range(301, 306):
            alloc.allocate(ctx_at(t, r))
        models.append(alloc._model)
    np.testing.assert_array_equal(models[0].exposures, models[1].exposures)
    np.testing.assert_array_equal(models[0].idio_var, models[1].idio_var)


def test_going_back_in_time_or_same_bar_refits():
    returns = history()
    alloc = OptimizerAllocator(full_config("CLARABEL", risk_model_every=50))
    alloc.allocate(ctx_at(300, returns))
    res = alloc.allocate(ctx_at(260, returns))  # a new run from an earlier bar: never a future model
    assert res.diagnostics["risk_refreshed"] and res.diagnostics["risk_model_t"] == 260
    res = alloc.allocate(ctx_at(260, returns))
    assert res.diagnostics["risk_refreshed"]
    assert alloc.risk_fits == 3


def test_every_constraint_holds_between_refreshes_and_matches_a_fresh_solve():
    """A bar served by a cached model is solved exactly like a fresh allocator would solve it
    with that model: the cache changes when the model is estimated, not the optimum."""
    returns = history()
    cfg = full_config("CLARABEL", risk_model_every=4)
    alloc = OptimizerAllocator(cfg)
    alloc.allocate(ctx_at(280, returns))
    ctx = ctx_at(282, returns)
    res = alloc.allocate(ctx)
    assert not res.diagnostics["risk_refreshed"]
    # a fresh allocator given the refresh bar's window at bar 282 estimates the same model
    same_model = dataclasses.replace(ctx, returns_window=returns[280 - 199 : 281])
    fresh = OptimizerAllocator(cfg).allocate(same_model)
    np.testing.assert_allclose(res.weights, fresh.weights, atol=1e-6)
    check_constraints(same_model, res.weights, cfg)


def test_risk_model_every_must_be_positive():
    with pytest.raises(OptimizerConfigError, match="risk_model_every"):
        OptimizerConfig(risk_model_every=0)
