"""Guarantees of the backtest: no lookahead, cash/weight/short/volume invariants, determinism."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.conftest import make_panel, random_panel
from workers.engine.allocation import AllocationResult
from workers.engine.backtest import BacktestConfig, GovernorConfig, run_backtest
from workers.engine.costs import CostModel

COSTS = CostModel(
    slippage_bps=1.0, half_spread_bps=0.5, impact_eta=0.5, commission_per_share=0.005, commission_min=1.0
)


def random_targets(rng, shape, member):
    w = rng.uniform(0, 1, shape) * (rng.random(shape) < 0.7)
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12) * rng.uniform(0.5, 1.2, (shape[0], 1))
    w[rng.random(shape[0]) < 0.3] = np.nan  # some bars without a decision
    w[(rng.random(shape) < 0.05) & member] = np.nan  # some held names
    return w


class ProportionalToAlpha:
    """Test allocator: weights proportional to positive alpha on tradable names."""

    def allocate(self, ctx):
        a = np.where(ctx.tradable & np.isfinite(ctx.alpha), np.maximum(ctx.alpha, 0), 0.0)
        w = a / a.sum() * ctx.exposure_cap if a.sum() > 0 else np.zeros_like(a)
        return AllocationResult(weights=w, status="baseline")


def perturb_after(panel, targets, alpha, t, rng):
    T, N = panel.shape
    late = slice(t + 1, T)
    o, c, v, m = panel.open.copy(), panel.close.copy(), panel.volume.copy(), panel.member.copy()
    n_late = T - t - 1
    o[late] = o[late] * rng.uniform(0.5, 2.0, (n_late, N))
    c[late] = c[late] * rng.uniform(0.5, 2.0, (n_late, N))
    v[late] = v[late] * rng.uniform(0.0, 3.0, (n_late, N))
    m[late] = rng.random((n_late, N)) < 0.7
    gone = rng.random((n_late, N)) < 0.1
    o[late][gone] = np.nan
    c[late][gone] = np.nan
    tg = targets.copy()
    tg[late] = random_targets(rng, (n_late, N), m[late])
    al = alpha.copy()
    al[late] = rng.normal(size=(n_late, N))
    return make_panel(o, c, volume=v, member=m), tg, al


def assert_same_up_to(a, b, t):
    for name in ("orders", "fills", "positions", "target_weights", "equity", "cash", "risk_state"):
        x, y = getattr(a, name)[: t + 1], getattr(b, name)[: t + 1]
        assert np.array_equal(x, y, equal_nan=True), f"{name} differs at or before bar {t}"
    assert np.array_equal(a.realised_weights[: t + 1], b.realised_weights[: t + 1], equal_nan=True)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.floats(0.05, 0.95), carry=st.booleans(), integer=st.booleans())
def test_no_lookahead_fast_path(seed, cut, carry, integer):
    rng = np.random.default_rng(seed)
    panel = random_panel(seed, T=40, N=5)
    t = int(cut * (panel.shape[0] - 2))
    targets = random_targets(rng, panel.shape, panel.member)
    config = BacktestConfig(costs=COSTS, remainder="carry" if carry else "cancel", integer_shares=integer)
    base = run_backtest(panel, config, targets=targets)
    p2, tg2, _ = perturb_after(panel, targets, np.zeros(panel.shape), t, rng)
    assert_same_up_to(base, run_backtest(p2, config, targets=tg2), t)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.floats(0.05, 0.95), every=st.integers(1, 4))
def test_no_lookahead_allocator_path(seed, cut, every):
    rng = np.random.default_rng(seed)
    panel = random_panel(seed, T=40, N=5)
    t = int(cut * (panel.shape[0] - 2))
    alpha = rng.normal(size=panel.shape)
    config = BacktestConfig(costs=COSTS, rebalance_every=every, returns_window=10)
    base = run_backtest(panel, config, allocator=ProportionalToAlpha(), alpha=alpha)
    p2, _, al2 = perturb_after(panel, np.zeros(panel.shape), alpha, t, rng)
    assert_same_up_to(base, run_backtest(p2, config, allocator=ProportionalToAlpha(), alpha=al2), t)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    participation=st.floats(0.01, 1.0),
    buffer=st.floats(0.0, 0.1),
    max_weight=st.floats(0.1, 1.0),
    integer=st.booleans(),
    carry=st.booleans(),
)
def test_invariants(seed, participation, buffer, max_weight, integer, carry):
    rng = np.random.default_rng(seed)
    panel = random_panel(seed, T=50, N=6)
    # a violent market so that gaps, truncations and the governor all occur
    o = panel.open * np.exp(rng.normal(0, 0.08, panel.shape))
    panel = make_panel(
        o, panel.close * np.exp(rng.normal(0, 0.05, panel.shape)), volume=panel.volume, member=panel.member
    )
    targets = random_targets(rng, panel.shape, panel.member)
    config = BacktestConfig(
        costs=COSTS,
        participation=participation,
        cash_buffer=buffer,
        max_weight=max_weight,
        integer_shares=integer,
        remainder="carry" if carry else "cancel",
        governor=GovernorConfig(conservative_dd=0.05, risk_off_dd=0.08, halt_dd=0.12, recover_dd=0.02),
    )
    r = run_backtest(panel, config, targets=targets)
    assert (r.cash >= 0).all()
    assert (r.positions >= 0).all()
    tw = r.target_weights
    assert np.nanmax(tw, initial=0) <= max_weight + 1e-12
    assert (np.nansum(tw, axis=1) <= r.exposure_cap + 1e-9).all()
    vol = np.nan_to_num(panel.volume)
    assert (np.abs(r.fills) <= participation * vol * (1 + 1e-12)).all()
    assert not r.fills[0].any()  # nothing fills before an order exists
    f = r.fill_records
    assert np.array_equal(f["price"], panel.open[f["bar"], f["symbol"]])  # every fill at the bar's open
    # the effective prices are what the cash paid: cash moves by -shares x effective price, bar by bar
    flows = -np.bincount(f["bar"], weights=f["shares"] * f["effective_price"], minlength=panel.shape[0])
    cash_moves = np.diff(np.concatenate(([config.initial_cash], r.cash)))
    np.testing.assert_allclose(cash_moves, flows, rtol=1e-9, atol=1e-6)
    # a fill at t is (part of) the order standing at t-1 (the decision, or the rest carried as the
    # order of a bar without one): same side, never more
    prev, filled = r.orders[:-1], r.fills[1:]
    assert (np.sign(filled) * np.sign(prev) >= 0).all()
    assert (np.abs(filled) <= np.abs(prev)).all()
    if carry:  # nothing unfilled is lost: a bar t without a decision re-sends the rest of t-1
        rest = (prev - filled)[:-1]  # bars t = 1 .. T-2
        quiet = np.isnan(targets[1:-1]).all(axis=1) & (r.risk_state_names[1:-1] != "halted")
        live = (rest > 0) | ((rest < 0) & (r.positions[1:-1] > 0))  # a sell rest needs shares left
        keep = quiet[:, None] & panel.member[1:-1] & live
        np.testing.assert_array_equal(r.orders[1:-1][keep], rest[keep])
    halted = r.risk_state_names == "halted"
    assert (r.orders[halted] <= 0).all()
    if integer:
        assert np.array_equal(r.positions, np.floor(r.positions))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_deterministic_bit_identical(seed):
    rng = np.random.default_rng(seed)
    panel = random_panel(seed, T=40, N=5)
    targets = random_targets(rng, panel.shape, panel.member)
    a = run_backtest(panel, BacktestConfig(costs=COSTS), targets=targets)
    b = run_backtest(panel, BacktestConfig(costs=COSTS), targets=targets.copy())
    for name in ("orders", "fills", "positions", "equity", "cash", "cost_paid", "target_weights", "drawdown"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    assert a.fill_records.tobytes() == b.fill_records.tobytes()
    assert a.risk_history.tobytes() == b.risk_history.tobytes()
