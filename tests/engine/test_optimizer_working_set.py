"""Working-set solve (OptimizerConfig.working_set): the same optimum as the full problem, the KKT
check adds what the screen missed, fallback when the held names do not fit, determinism."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from workers.engine.optimizer import OptimizerAllocator, OptimizerConfig, OptimizerConfigError
from workers.engine.optimizer.bounds import compute_bounds, sector_sums
from workers.engine.optimizer.working_set import WorkingSetProblem

from .test_optimizer import check_constraints, full_config, make_ctx

TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}
REPO = Path(__file__).resolve().parents[2]
DAILY = REPO.parent / "shared" / "data"


def binding_config(**overrides) -> OptimizerConfig:
    """Every constraint active and binding on make_ctx: turnover, hard sector cap, vol cap."""
    base = dict(max_turnover=0.25, sector_hard_cap=0.07, vol_max=0.08, solver_options=TIGHT)
    base.update(overrides)
    return full_config("CLARABEL", **base)


def objective(ctx, w: np.ndarray, cfg: OptimizerConfig, model, gamma: float | None = None) -> float:
    b = compute_bounds(ctx, cfg)
    excess = np.clip(sector_sums(w, b.sector_rows, b.n_sector_rows) - cfg.sector_soft_cap, 0, None).sum()
    return float(
        b.alpha @ w
        - cfg.cost_bps * 1e-4 * np.abs(w - b.w0).sum()
        - cfg.sector_penalty * excess
        - (cfg.risk_aversion if gamma is None else gamma) * model.variance(w)
    )


def assert_same_optimum(ctx, cfg: OptimizerConfig, size: int) -> dict:
    full_alloc = OptimizerAllocator(cfg)
    full = full_alloc.allocate(ctx)
    ws_alloc = OptimizerAllocator(dataclasses.replace(cfg, working_set=size))
    ws = ws_alloc.allocate(ctx)
    assert full.status == "optimal" and ws.status == "optimal", (full.reason, ws.reason)
    np.testing.assert_allclose(ws.weights, full.weights, atol=1e-5)
    f_full = objective(ctx, full.weights, cfg, full_alloc._model)
    f_ws = objective(ctx, ws.weights, cfg, full_alloc._model)
    assert abs(f_ws - f_full) <= 1e-6 * abs(f_full)
    return ws.diagnostics


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 5])
def test_working_set_equals_full_problem(seed):
    ctx = make_ctx(seed=seed)
    cfg = binding_config()
    diag = assert_same_optimum(ctx, cfg, size=20)
    check_constraints(
        ctx, OptimizerAllocator(dataclasses.replace(cfg, working_set=20)).allocate(ctx).weights, cfg
    )
    assert "working_set_fallback" not in diag
    assert diag["working_set_size"] == 20
    assert diag["kkt_max_violation"] <= 1e-8


def test_binding_constraints_in_the_comparison():
    """The comparison above is only meaningful if the caps bind: check they do."""
    ctx = make_ctx(seed=2)
    cfg = binding_config()
    res = OptimizerAllocator(dataclasses.replace(cfg, working_set=20)).allocate(ctx)
    rows = compute_bounds(ctx, cfg)
    assert res.diagnostics["turnover"] == pytest.approx(0.25, abs=1e-6)
    assert res.diagnostics["ex_ante_vol"] == pytest.approx(0.08, rel=1e-5)
    assert sector_sums(res.weights, rows.sector_rows, rows.n_sector_rows).max() == pytest.approx(
        0.07, abs=1e-6
    )


def test_buy_marginals_are_zero_for_names_bought_inside_their_bounds():
    """The dual signs and scalings of the KKT check: a name bought strictly between 0 and its
    upper bound has zero net marginal utility (stationarity), with every cap binding."""
    ctx = make_ctx(seed=2)
    alloc = OptimizerAllocator(dataclasses.replace(binding_config(), working_set=20))
    res = alloc.allocate(ctx)
    problem: WorkingSetProblem = alloc._problem
    idx = problem.last_set
    marg = problem.buy_marginals(idx, np.asarray(problem.inner.w.value))
    b = compute_bounds(ctx, alloc.config)
    inside = (res.weights > 1e-4) & (res.weights < b.ub - 1e-4) & (b.w0 == 0)
    assert inside.sum() >= 2
    np.testing.assert_allclose(marg[inside], 0.0, atol=1e-8)
    # names at their upper bound want more, names left at zero want less
    at_ub = (res.weights >= b.ub - 1e-7) & (b.ub > 0) & (b.w0 == 0)
    assert (marg[at_ub] >= -1e-8).all()


def diversifier_case():
    """A name with modest alpha (outside the screen's top 16 on an empty book) but a negative
    loading on the market factor: once the book is long the market it diversifies, so the
    optimum buys it."""
    rng = np.random.default_rng(7)
    n, L = 60, 250
    market = rng.normal(0, 0.012, L)
    returns = np.outer(market, rng.uniform(0.8, 1.2, n)) + rng.normal(0, 0.006, (L, n))
    hedge = 59
    returns[:, hedge] = -0.8 * market + rng.normal(0, 0.006, L)
    alpha = rng.normal(1e-3, 2e-4, n)
    alpha[hedge] = float(np.sort(alpha)[n - 25])  # rank 25 by alpha
    ctx = make_ctx(
        alpha=alpha,
        current_weights=np.zeros(n),
        tradable=np.ones(n, dtype=bool),
        price=np.full(n, 50.0),
        adv_dollar=np.full(n, 1e10),
        returns_window=returns,
        sector=np.arange(n) % 6,
        exposure_cap=1.0,
    )
    cfg = binding_config(max_turnover=None, sector_hard_cap=None, vol_max=None, max_weight=0.1, n_factors=2)
    return ctx, cfg, hedge


def test_kkt_check_adds_a_diversifier_the_screen_missed():
    """The first working-set solve leaves the diversifier out; the KKT check must add it."""
    ctx, cfg, hedge = diversifier_case()
    assert hedge not in np.argsort(-np.asarray(ctx.alpha))[:16]  # on an empty book the screen is alpha - cost
    diag = assert_same_optimum(ctx, cfg, size=16)
    res = OptimizerAllocator(dataclasses.replace(cfg, working_set=16)).allocate(ctx)
    assert res.weights[hedge] > 1e-3
    assert diag["kkt_rounds"] >= 2
    assert "working_set_fallback" not in diag


def test_fallback_when_violators_have_no_free_slot():
    """Ten slots, all bought at the 10% max weight: no room for the violators -> full problem."""
    ctx, cfg, hedge = diversifier_case()
    alloc = OptimizerAllocator(dataclasses.replace(cfg, working_set=10))
    res = alloc.allocate(ctx)
    assert "no zero-weight slot" in res.diagnostics["working_set_fallback"]
    full = OptimizerAllocator(cfg).allocate(ctx)
    np.testing.assert_allclose(res.weights, full.weights, atol=1e-7)
    assert res.weights[hedge] > 1e-3


def test_fallback_to_full_problem_when_held_names_exceed_the_set():
    ctx = make_ctx(seed=4)
    w0 = np.zeros(60)
    w0[20:32] = 0.03  # 12 held names (plus the 5 of make_ctx are replaced)
    ctx = make_ctx(seed=4, current_weights=w0)
    cfg = binding_config()
    alloc = OptimizerAllocator(dataclasses.replace(cfg, working_set=8))
    res = alloc.allocate(ctx)
    assert "exceed the working set of 8" in res.diagnostics["working_set_fallback"]
    assert alloc._problem.full_solves >= 1
    full = OptimizerAllocator(cfg).allocate(ctx)
    np.testing.assert_allclose(res.weights, full.weights, atol=1e-7)


def test_deterministic_across_allocators_and_warm_resolves():
    cfg = dataclasses.replace(binding_config(solver_options={}), working_set=20)
    runs = []
    for _ in range(2):
        alloc = OptimizerAllocator(cfg)
        runs.append([alloc.allocate(make_ctx(seed=s)).weights for s in (4, 5, 6)])
        assert alloc.builds == 1
    for a, b in zip(*runs, strict=True):
        assert np.array_equal(a, b)


def test_universe_no_larger_than_the_set_uses_the_full_problem():
    alloc = OptimizerAllocator(dataclasses.replace(binding_config(), working_set=60))
    res = alloc.allocate(make_ctx(seed=1))  # N = 60
    assert res.status == "optimal" and not isinstance(alloc._problem, WorkingSetProblem)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_working_set_size_is_rejected(bad):
    with pytest.raises(OptimizerConfigError, match="working_set"):
        OptimizerConfig(working_set=bad)


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_optimizer", REPO / "bench" / "optimizer.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_optimizer"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not DAILY.exists(), reason=f"real data folder {DAILY} is absent")
def test_working_set_equals_full_problem_on_real_data():
    """Five consecutive real n = 500 bars (the bench's contexts, every constraint active), the
    book drifting with realised returns: the default working-set optimum is the full one on each."""
    bench = _bench_module()
    src = bench.Contexts()
    cfg = dataclasses.replace(bench.bench_config("CLARABEL"), solver_options=TIGHT)
    t0 = src.T - 8
    w = OptimizerAllocator(cfg).allocate(src.at(t0 - 1, np.zeros(bench.N_NAMES))).weights
    w = src.drift(w, t0 - 1)
    ws_alloc = OptimizerAllocator(dataclasses.replace(cfg, working_set=OptimizerConfig().working_set))
    for t in range(t0, t0 + 5):
        ctx = src.at(t, w)
        full_alloc = OptimizerAllocator(cfg)
        full = full_alloc.allocate(ctx)
        ws = ws_alloc.allocate(ctx)
        assert full.status == "optimal" and ws.status == "optimal"
        np.testing.assert_allclose(ws.weights, full.weights, atol=1e-5)
        gamma = full.diagnostics["gamma"]
        assert ws.diagnostics["gamma"] == gamma
        f_full = objective(ctx, full.weights, cfg, full_alloc._model, gamma)
        f_ws = objective(ctx, ws.weights, cfg, full_alloc._model, gamma)
        assert abs(f_ws - f_full) <= 1e-6 * abs(f_full)
        assert bench.violations(ctx, ws.weights, cfg, ws.diagnostics["ex_ante_vol"]) == []
        assert ws.diagnostics["working_set_size"] == 60 and "working_set_fallback" not in ws.diagnostics
        w = src.drift(ws.weights, t)
