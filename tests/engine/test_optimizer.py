"""OptimizerAllocator: every constraint holds, DPP, warm == fresh, fallback, determinism."""

from __future__ import annotations

import dataclasses

import cvxpy as cp
import numpy as np
import pytest

from workers.engine.allocation import AllocationContext
from workers.engine.optimizer import AllocationInputError, OptimizerAllocator, OptimizerConfig
from workers.engine.optimizer.bounds import sector_rows, sector_sums
from workers.engine.optimizer.problem import PortfolioProblem
from workers.engine.optimizer.risk_model import estimate_factor_model

N = 60
EQUITY = 1e8


def make_ctx(seed: int = 0, **overrides) -> AllocationContext:
    """A book with every special case: untradable held name, illiquid held / new names, NaN-alpha
    held / new names, an overweight drifted name, unknown sector, participation-limited names."""
    rng = np.random.default_rng(seed)
    L = 200
    factors = rng.normal(0, 0.01, (L, 3))
    loads = rng.normal(1.0, 0.4, (N, 3))
    returns = factors @ loads.T + rng.normal(0, 0.015, (L, N))
    returns[:150, 5] = np.nan  # short history
    returns[rng.random((L, N)) < 0.02] = np.nan  # missing bars
    alpha = rng.normal(0, 1e-3, N)
    w0 = np.zeros(N)
    w0[[0, 1, 2, 3, 4]] = [0.05, 0.12, 0.04, 0.03, 0.06]  # name 1 is above max weight
    tradable = np.ones(N, dtype=bool)
    tradable[0] = False  # held, left the universe: must be sold
    price = rng.uniform(20, 200, N)
    price[2] = 2.0  # held, below min price: sell-only
    price[10] = 1.0  # new, below min price: pinned at 0
    adv = rng.uniform(5e7, 5e8, N)
    adv[11] = 1e5  # new, below min ADV
    adv[12] = np.nan  # ADV unknown
    adv[13] = 2e7  # liquid, but 5% participation limits a trade to 1% of equity
    alpha[[10, 11, 12, 13]] = 5e-3  # the excluded / limited names look attractive
    alpha[3] = np.nan  # held, no view: sell-only
    alpha[14] = np.nan  # new, no view: never bought
    sector = np.arange(N) % 6
    sector[20] = -1
    base = dict(
        t=L - 1,
        alpha=alpha,
        current_weights=w0,
        tradable=tradable,
        price=price,
        adv_dollar=adv,
        returns_window=returns,
        sector=sector,
        exposure_cap=0.8,
        allow_buys=True,
        periods_per_year=252,
        equity=EQUITY,
    )
    base.update(overrides)
    return AllocationContext(**base)


def full_config(solver: str, **overrides) -> OptimizerConfig:
    base = dict(
        risk_aversion=1.0,
        cost_bps=5.0,
        max_weight=0.08,
        min_price=5.0,
        min_adv_dollar=1e6,
        max_participation=0.05,
        max_turnover=0.6,
        sector_soft_cap=0.15,
        sector_penalty=0.001,
        sector_hard_cap=0.2,
        vol_max=0.15,
        n_factors=5,
        min_obs=60,
        solver=solver,
    )
    base.update(overrides)
    return OptimizerConfig(**base)


def check_constraints(ctx: AllocationContext, w: np.ndarray, cfg: OptimizerConfig) -> None:
    w0 = ctx.current_weights
    tol = 1e-6
    assert np.isfinite(w).all()
    assert (w >= 0).all() and (w <= cfg.max_weight + tol).all()
    assert w.sum() <= ctx.exposure_cap + tol
    assert w[0] == 0.0  # untradable held name sold
    assert w[[10, 11, 12, 14]].max() == 0.0  # illiquid / unknown-ADV / no-view new names never bought
    assert w[2] <= w0[2] + tol and w[3] <= w0[3] + tol  # sell-only held names
    forced = ~ctx.tradable | (w0 > cfg.max_weight)
    trade_cap = cfg.max_participation * np.nan_to_num(ctx.adv_dollar) / ctx.equity
    assert (np.abs(w - w0)[~forced] <= trade_cap[~forced] + 1e-5).all()
    rows, g = sector_rows(ctx.sector)
    if cfg.sector_hard_cap is not None:
        assert sector_sums(w, rows, g).max() <= cfg.sector_hard_cap + 1e-4
    if cfg.max_turnover is not None:
        assert np.abs(w - w0).sum() <= cfg.max_turnover + 1e-4
    if cfg.vol_max is not None:
        model = estimate_factor_model(
            ctx.returns_window,
            n_factors=cfg.n_factors,
            min_obs=cfg.min_obs,
            default_idio_vol=cfg.default_idio_vol,
            periods_per_year=ctx.periods_per_year,
        )
        assert model.vol(w, ctx.periods_per_year) <= cfg.vol_max * (1 + 1e-3)


@pytest.mark.parametrize("vol_constraint", [False, True])
def test_problem_is_dpp(vol_constraint):
    rows, g = sector_rows(np.arange(N) % 6)
    problem = PortfolioProblem(sector_rows=rows, n_sector_rows=g, k=5, vol_constraint=vol_constraint)
    assert problem.is_dpp()


@pytest.mark.parametrize("solver", ["OSQP", "CLARABEL"])
def test_every_constraint_holds(solver):
    cfg = full_config(solver)
    ctx = make_ctx()
    res = OptimizerAllocator(cfg).allocate(ctx)
    assert res.status in ("optimal", "optimal_inaccurate"), res.reason
    check_constraints(ctx, res.weights, cfg)
    assert res.weights.sum() > 0.3  # it does invest
    assert res.weights[1] <= cfg.max_weight + 1e-9  # drifted overweight trimmed


FREE = dict(max_turnover=None, sector_hard_cap=None, vol_max=None)


def cap_measure(cap: str, ctx: AllocationContext, w: np.ndarray, cfg: OptimizerConfig) -> float:
    """What `cap` limits, measured on the weights themselves (not the optimizer's diagnostics)."""
    if cap == "max_turnover":
        return float(np.abs(w - ctx.current_weights).sum())
    if cap == "sector_hard_cap":
        rows, g = sector_rows(ctx.sector)
        return float(sector_sums(w, rows, g).max())
    model = estimate_factor_model(
        ctx.returns_window,
        n_factors=cfg.n_factors,
        min_obs=cfg.min_obs,
        default_idio_vol=cfg.default_idio_vol,
        periods_per_year=ctx.periods_per_year,
    )
    return float(model.vol(w, ctx.periods_per_year))


@pytest.mark.parametrize("solver", ["OSQP", "CLARABEL"])
@pytest.mark.parametrize("cap,limit", [("max_turnover", 0.25), ("sector_hard_cap", 0.12), ("vol_max", 0.08)])
def test_binding_caps(solver, cap, limit):
    """Each cap on its own, tight enough that the free solution breaks it by far: with the cap the
    solution sits on it (it binds) and every other constraint still holds."""
    ctx = make_ctx(seed=3)
    free_cfg = full_config(solver, **FREE)
    free = OptimizerAllocator(free_cfg).allocate(ctx)
    assert cap_measure(cap, ctx, free.weights, free_cfg) > 1.2 * limit  # the cap has work to do
    cfg = full_config(solver, **{**FREE, cap: limit})
    res = OptimizerAllocator(cfg).allocate(ctx)
    assert res.status in ("optimal", "optimal_inaccurate"), res.reason
    check_constraints(ctx, res.weights, cfg)
    assert cap_measure(cap, ctx, res.weights, cfg) == pytest.approx(limit, rel=1e-2)


@pytest.mark.parametrize("solver", ["OSQP", "CLARABEL"])
def test_tight_caps_together(solver):
    """All three tight caps at once: each holds, and the tightest (turnover here) binds."""
    cfg = full_config(solver, max_turnover=0.25, sector_hard_cap=0.12, vol_max=0.08)
    ctx = make_ctx(seed=3)
    res = OptimizerAllocator(cfg).allocate(ctx)
    assert res.status in ("optimal", "optimal_inaccurate"), res.reason
    check_constraints(ctx, res.weights, cfg)
    assert cap_measure("max_turnover", ctx, res.weights, cfg) == pytest.approx(0.25, rel=1e-2)


def test_allow_buys_false_is_sell_only():
    cfg = full_config("CLARABEL")
    ctx = make_ctx(allow_buys=False)
    res = OptimizerAllocator(cfg).allocate(ctx)
    assert res.status == "optimal", res.reason
    assert (res.weights <= ctx.current_weights + 1e-7).all()
    check_constraints(ctx, res.weights, cfg)


def test_nan_alpha_never_bought_even_when_everything_else_is_nan():
    alpha = np.full(N, np.nan)
    ctx = make_ctx(alpha=alpha)
    res = OptimizerAllocator(full_config("OSQP")).allocate(ctx)
    assert res.status in ("optimal", "optimal_inaccurate")
    assert (res.weights <= ctx.current_weights + 1e-7).all()


@pytest.mark.parametrize("solver,tol", [("OSQP", 2e-3), ("CLARABEL", 1e-5)])
def test_warm_resolve_matches_fresh_build(solver, tol):
    cfg = full_config(solver)
    warm = OptimizerAllocator(cfg)
    first = warm.allocate(make_ctx(seed=1))
    ctx2 = make_ctx(seed=2, current_weights=np.where(make_ctx(seed=2).tradable, first.weights, 0.0))
    again = warm.allocate(ctx2)
    fresh = OptimizerAllocator(cfg).allocate(ctx2)
    assert warm.builds == 1  # re-solved, not rebuilt
    assert again.status.startswith("optimal") and fresh.status.startswith("optimal")
    np.testing.assert_allclose(again.weights, fresh.weights, atol=tol)


def test_deterministic():
    cfg = full_config("OSQP")
    runs = []
    for _ in range(2):
        alloc = OptimizerAllocator(cfg)
        runs.append([alloc.allocate(make_ctx(seed=s)).weights for s in (4, 5)])
    for a, b in zip(*runs, strict=True):
        assert np.array_equal(a, b)


def test_solver_error_falls_back_to_held_weights_scaled(monkeypatch):
    def boom(self, **kwargs):
        raise cp.error.SolverError("injected failure")

    monkeypatch.setattr(PortfolioProblem, "solve", boom)
    ctx = make_ctx(exposure_cap=0.2)
    res = OptimizerAllocator(full_config("OSQP", sector_hard_cap=None)).allocate(ctx)
    assert res.status == "fallback_scaled"
    assert "SolverError" in res.reason and "injected failure" in res.reason
    held = np.clip(ctx.current_weights, 0, 0.08)
    held[0] = 0.0  # left the universe
    np.testing.assert_allclose(res.weights, held * 0.2 / held.sum())


def test_fallback_hold_without_scaling(monkeypatch):
    monkeypatch.setattr(PortfolioProblem, "solve", lambda self, **kw: ("infeasible", None, 0.0))
    ctx = make_ctx()
    res = OptimizerAllocator(full_config("OSQP", sector_hard_cap=None)).allocate(ctx)
    assert res.status == "fallback_hold"
    assert "infeasible" in res.reason
    expected = np.clip(ctx.current_weights, 0, 0.08)
    expected[0] = 0.0
    np.testing.assert_allclose(res.weights, expected)


def test_really_infeasible_problem_falls_back():
    """Held names that liquidity does not let us sell (tiny ADV) carry more risk than a 0.1% vol
    cap allows: the SOC problem is infeasible, the allocator holds."""
    ctx = make_ctx()
    adv = ctx.adv_dollar.copy()
    adv[[1, 4]] = 1e4  # liquid enough for the filter? no: below min ADV -> sell-only; and sells capped
    ctx = dataclasses.replace(ctx, adv_dollar=adv)
    cfg = full_config("CLARABEL", vol_max=0.001, min_adv_dollar=0.0, sector_hard_cap=None, max_turnover=None)
    res = OptimizerAllocator(cfg).allocate(ctx)
    assert res.status.startswith("fallback"), (res.status, res.diagnostics)
    assert "infeasible" in res.reason
    assert res.weights.sum() <= ctx.exposure_cap + 1e-12


def test_vol_search_with_osqp_meets_the_cap_and_reports_the_floor():
    ctx = make_ctx()
    capped = OptimizerAllocator(full_config("OSQP", vol_max=0.06, risk_aversion=0.05)).allocate(ctx)
    assert capped.status.startswith("optimal")
    assert capped.diagnostics["n_solves"] > 1 and capped.diagnostics["gamma"] > 0.05
    assert capped.diagnostics["ex_ante_vol"] <= 0.06 * (1 + 1e-3)
    # A floor that a 3% exposure cap makes unreachable: recorded, never faked.
    floor = OptimizerAllocator(full_config("OSQP", vol_max=None, vol_min=0.2)).allocate(
        make_ctx(exposure_cap=0.03)
    )
    assert floor.status.startswith("optimal")
    assert floor.diagnostics["vol_below_min"] < 0.2
    assert floor.weights.sum() <= 0.03 + 1e-9


def test_vol_floor_reached_by_lowering_risk_aversion():
    cfg = full_config("CLARABEL", vol_max=None, vol_min=0.12, risk_aversion=50.0, max_turnover=None)
    res = OptimizerAllocator(cfg).allocate(make_ctx())
    assert res.diagnostics["gamma"] < 50.0
    assert res.diagnostics["ex_ante_vol"] >= 0.12 * (1 - 1e-3)


def test_bad_input_is_rejected_with_the_field_name():
    alloc = OptimizerAllocator(full_config("OSQP"))
    with pytest.raises(AllocationInputError, match="current_weights"):
        alloc.allocate(make_ctx(current_weights=np.full(N, np.nan)))
    with pytest.raises(AllocationInputError, match="tradable"):
        alloc.allocate(make_ctx(tradable=np.ones(N - 1, dtype=bool)))
    with pytest.raises(AllocationInputError, match="exposure_cap"):
        alloc.allocate(make_ctx(exposure_cap=1.5))


def test_osqp_cannot_take_the_soc_constraint():
    with pytest.raises(ValueError, match="OSQP cannot"):
        OptimizerConfig(solver="OSQP", vol_mode="constraint", vol_max=0.1)


def test_repair_keeps_bounds_turnover_and_exposure():
    """Solver noise removal never leaves [lb, ub], nor the turnover or exposure caps."""
    from workers.engine.optimizer.bounds import Bounds

    w0 = np.array([0.3, 0.2, 0.0, 0.0])
    bounds = Bounds(
        lb=np.array([0.25, 0.0, 0.0, 0.0]),
        ub=np.array([0.3, 0.2, 0.4, 0.4]),
        w0=w0,
        alpha=np.zeros(4),
        sector_rows=np.zeros(4, dtype=np.int64),
        n_sector_rows=1,
        turnover_cap=0.5,
        diagnostics={},
    )
    noisy = np.array([0.2499, 0.0, 0.41, 0.35])  # below lb, above ub, too much turnover and exposure
    w = OptimizerAllocator(full_config("OSQP")).repair(noisy, bounds, exposure_cap=0.6)
    assert (w >= bounds.lb - 1e-12).all() and (w <= bounds.ub + 1e-12).all()
    assert np.abs(w - w0).sum() <= 0.5 + 1e-12
    assert w.sum() <= 0.6 + 1e-12


def test_osqp_iteration_limit_is_retried_before_falling_back(monkeypatch):
    real_solve = PortfolioProblem.solve
    calls = []

    def first_hits_the_limit(self, *, solver, options, warm_start=True):
        calls.append(options)
        if len(calls) == 1:
            return "user_limit", None, 1.0
        return real_solve(self, solver=solver, options=options, warm_start=warm_start)

    monkeypatch.setattr(PortfolioProblem, "solve", first_hits_the_limit)
    alloc = OptimizerAllocator(full_config("OSQP", vol_max=None))
    res = alloc.allocate(make_ctx())
    assert res.status.startswith("optimal") and alloc.retries == 1
    assert calls[1]["max_iter"] > calls[0]["max_iter"]
