"""Execution simulation and the bar loop, checked against fills computed by hand."""

import numpy as np
import pytest

from tests.engine.conftest import make_panel, random_panel
from workers.engine.allocation import AllocationContext, AllocationResult
from workers.engine.backtest import BacktestConfig, BacktestConfigError, BacktestInputError, run_backtest
from workers.engine.costs import CostModel

NAN = np.nan


def zero_cost(**kw) -> BacktestConfig:
    kw.setdefault("initial_cash", 100_000.0)
    return BacktestConfig(costs=CostModel.zero(), governor=None, **kw)


def test_order_sized_at_close_t_fills_at_open_t_plus_1():
    panel = make_panel([10.0, 10.1, 12.0, 12.0], [10.0, 11.5, 12.0, 13.0])
    targets = np.array([[1.0], [NAN], [NAN], [NAN]])
    r = run_backtest(panel, zero_cost(), targets=targets)
    shares = 100_000 * 0.98 / 10.0
    assert r.orders[0, 0] == pytest.approx(shares)
    assert r.fills[0, 0] == 0 and r.fills[1, 0] == pytest.approx(shares)
    cash = 100_000 - shares * 10.1
    assert r.cash[1] == pytest.approx(cash)
    np.testing.assert_allclose(
        r.equity, [100_000, cash + shares * 11.5, cash + shares * 12, cash + shares * 13]
    )
    f = r.fill_records
    assert len(f) == 1 and f["bar"][0] == 1 and f["price"][0] == 10.1 and f["cost"][0] == 0


def test_costs_are_deducted_from_cash_and_split_per_fill():
    costs = CostModel(
        slippage_bps=1.0, half_spread_bps=0.5, impact_eta=0.5, commission_per_share=0.01, commission_min=1.0
    )
    panel = random_panel(3, T=40, N=4)
    T, N = panel.shape
    targets = np.where(panel.member, 0.2, 0.0)
    r = run_backtest(panel, BacktestConfig(costs=costs, governor=None), targets=targets)
    f = r.fill_records
    assert len(f) > 0
    assert (f["slippage"] > 0).all() and (f["spread"] > 0).all() and (f["commission"] >= 1.0).all()
    assert (f["impact"] >= 0).all() and (f["impact"] > 0).any()
    np.testing.assert_allclose(f["slippage"], f["notional"] * 1e-4, rtol=1e-12)
    np.testing.assert_allclose(f["spread"], f["notional"] * 0.5e-4, rtol=1e-12)
    per_bar = np.bincount(f["bar"], weights=f["cost"], minlength=T)
    np.testing.assert_allclose(per_bar, r.cost_paid, rtol=1e-10, atol=1e-9)
    # the ledger: cash moves by -signed notional - costs, bar by bar
    flows = -np.bincount(f["bar"], weights=f["shares"] * f["price"], minlength=T) - per_bar
    np.testing.assert_allclose(np.diff(np.concatenate(([1e6], r.cash))), flows, rtol=1e-9, atol=1e-6)
    # effective prices: buys above the open, sells below
    buys = f["shares"] > 0
    assert (f["effective_price"][buys] > f["price"][buys]).all()
    assert (f["effective_price"][~buys] < f["price"][~buys]).all()


@pytest.mark.parametrize("remainder", ["cancel", "carry"])
def test_participation_cap_cancels_or_carries_the_rest(remainder):
    # 100k cash at 10 -> 9,800 shares wanted; each bar trades 30,000 -> 3,000 per bar at 10%.
    panel = make_panel([10.0] * 6, volume=[30_000.0] * 6)
    targets = np.array([[1.0]] + [[NAN]] * 5)
    r = run_backtest(panel, zero_cost(remainder=remainder), targets=targets)
    if remainder == "cancel":
        np.testing.assert_allclose(r.fills[:, 0], [0, 3000, 0, 0, 0, 0])
    else:
        np.testing.assert_allclose(r.fills[:, 0], [0, 3000, 3000, 3000, 800, 0])
    assert (np.abs(r.fills) <= 0.1 * panel.volume + 1e-9).all()


def test_gap_up_truncates_buys_so_cash_never_goes_negative():
    panel = make_panel([10.0, 12.0, 12.0], [10.0, 12.0, 12.0])
    r = run_backtest(panel, zero_cost(cash_buffer=0.0), targets=np.array([[1.0], [NAN], [NAN]]))
    assert r.buy_scale[1] < 1
    assert r.cash.min() >= 0
    assert r.fills[1, 0] == pytest.approx(100_000 / 12.0, rel=1e-9)


def test_gap_up_truncation_with_costs_and_integer_shares():
    costs = CostModel(impact_eta=1.0, commission_per_share=0.01, commission_min=1.0)
    panel = random_panel(11, T=30, N=5, gaps=False)
    gap = panel.open.copy()
    gap[10] *= 1.3  # a 30% gap up on every name after a rebalance
    panel = make_panel(gap, panel.close, volume=panel.volume * 100)
    targets = np.full(panel.shape, 0.2)
    r = run_backtest(
        panel,
        BacktestConfig(costs=costs, cash_buffer=0.0, integer_shares=True, governor=None),
        targets=targets,
    )
    assert (r.buy_scale < 1).any()
    assert r.cash.min() >= 0
    assert np.array_equal(r.positions, np.floor(r.positions))


def test_sells_fund_buys_in_the_same_bar():
    # rotate all-in from S0 to S1: the buy of S1 at bar 2 is only affordable with the proceeds of S0
    panel = make_panel(np.full((4, 2), 10.0))
    targets = np.array([[1.0, 0.0], [0.0, 1.0], [NAN, NAN], [NAN, NAN]])
    r = run_backtest(panel, zero_cost(cash_buffer=0.0), targets=targets)
    np.testing.assert_allclose(r.positions[2], [0.0, 10_000.0])
    assert r.buy_scale[2] == 1.0


def test_names_leaving_the_universe_are_sold_even_without_a_rebalance():
    member = np.array([[True], [True], [True], [False], [False], [False]])
    panel = make_panel([10.0] * 6, member=member)
    targets = np.array([[1.0]] + [[NAN]] * 5)
    r = run_backtest(panel, zero_cost(), targets=targets)
    assert r.positions[2, 0] > 0
    assert r.orders[3, 0] == -r.positions[3, 0]
    assert r.positions[4, 0] == 0


def test_no_bar_no_trade_and_carry_fills_on_the_next_bar():
    panel = make_panel([10.0, NAN, 10.0, 10.0], [10.0, NAN, 10.0, 10.0], member=np.ones((4, 1), bool))
    targets = np.array([[1.0], [NAN], [NAN], [NAN]])
    cancelled = run_backtest(panel, zero_cost(), targets=targets)
    assert not cancelled.fills.any()
    carried = run_backtest(panel, zero_cost(remainder="carry"), targets=targets)
    np.testing.assert_allclose(carried.fills[:, 0], [0, 0, 9800, 0])


def test_nan_target_holds_and_zero_target_sells():
    panel = make_panel(np.full((5, 2), 10.0))
    targets = np.array([[0.5, 0.5], [NAN, NAN], [NAN, 0.0], [NAN, NAN], [NAN, NAN]])
    r = run_backtest(panel, zero_cost(), targets=targets)
    assert r.positions[-1, 0] == r.positions[1, 0] > 0
    assert r.positions[-1, 1] == 0


def test_max_weight_and_min_order_value():
    panel = make_panel(np.full((4, 2), 10.0))
    r = run_backtest(panel, zero_cost(max_weight=0.3), targets=np.full((4, 2), 0.9))
    assert np.nanmax(r.target_weights) == pytest.approx(0.3)
    assert r.positions[1, 0] == pytest.approx(100_000 * 0.98 * 0.3 / 10)
    # a 1% drift after the first trade is below the 5,000 no-trade band
    drift = make_panel(np.array([[10.0], [10.0], [10.1], [10.1]]))
    r2 = run_backtest(drift, zero_cost(min_order_value=5_000.0), targets=np.full((4, 1), 0.5))
    assert np.count_nonzero(r2.fills) == 1


class FixedWeights:
    """A test allocator: constant weights on tradable names, recording what it saw."""

    def __init__(self, weights):
        self.weights = np.asarray(weights, dtype=float)
        self.seen: list[AllocationContext] = []

    def allocate(self, ctx: AllocationContext) -> AllocationResult:
        self.seen.append(ctx)
        return AllocationResult(weights=np.where(ctx.tradable, self.weights, 0.0), status="baseline")


def test_allocator_path_matches_fast_path_and_sees_only_the_past():
    panel = random_panel(5, T=50, N=4, gaps=False)
    alloc = FixedWeights([0.25, 0.25, 0.25, 0.25])
    alpha = np.ones(panel.shape)
    config = BacktestConfig(governor=None)
    a = run_backtest(panel, config, allocator=alloc, alpha=alpha)
    b = run_backtest(panel, config, targets=np.full(panel.shape, 0.25))
    np.testing.assert_array_equal(a.fills, b.fills)
    np.testing.assert_array_equal(a.equity, b.equity)
    assert len(alloc.seen) == panel.shape[0] - 1  # no decision on the last bar
    ctx = alloc.seen[30]
    assert ctx.t == 30 and ctx.returns_window.shape == (31, 4)  # window of 60 truncated at the start
    np.testing.assert_array_equal(ctx.returns_window[-1], panel.close[30] / panel.close[29] - 1)
    np.testing.assert_array_equal(ctx.price, panel.close[30])
    assert ctx.equity == a.equity[30]
    np.testing.assert_allclose(ctx.current_weights, a.realised_weights[30])


def test_allocator_rebalance_every_k_bars():
    panel = random_panel(6, T=30, N=3, gaps=False)
    alloc = FixedWeights([0.3, 0.3, 0.3])
    r = run_backtest(panel, BacktestConfig(rebalance_every=5), allocator=alloc, alpha=np.ones(panel.shape))
    assert [c.t for c in alloc.seen] == [0, 5, 10, 15, 20, 25]
    assert set(np.nonzero(r.orders.any(axis=1))[0]) == {0, 5, 10, 15, 20, 25}  # each rebalance trades


def test_a_buggy_allocator_cannot_break_the_caps():
    class Greedy:
        def allocate(self, ctx):
            return AllocationResult(weights=np.full(len(ctx.alpha), 0.9), status="optimal")

    panel = random_panel(7, T=20, N=3, gaps=False)
    r = run_backtest(panel, BacktestConfig(max_weight=0.4), allocator=Greedy(), alpha=np.ones(panel.shape))
    assert (
        np.nanmax(r.target_weights) <= 0.4 and np.nanmax(np.nansum(r.target_weights, axis=1)) <= 1.0 + 1e-12
    )

    class Negative:
        def allocate(self, ctx):
            return AllocationResult(weights=np.full(len(ctx.alpha), -0.1), status="optimal")

    with pytest.raises(BacktestInputError, match="negative weights at bar 0"):
        run_backtest(panel, allocator=Negative(), alpha=np.ones(panel.shape))


def test_bad_inputs_are_named():
    panel = make_panel(np.full((3, 2), 10.0))
    with pytest.raises(BacktestInputError, match="shape"):
        run_backtest(panel, targets=np.ones((3, 3)))
    with pytest.raises(BacktestInputError, match="S1 at row 2 is negative"):
        run_backtest(panel, targets=np.array([[0.1, 0.1], [0.1, 0.1], [0.1, -0.1]]))
    with pytest.raises(BacktestInputError, match="exactly one"):
        run_backtest(panel)
    with pytest.raises(BacktestInputError, match="alpha"):
        run_backtest(panel, allocator=FixedWeights([0.5, 0.5]))
    with pytest.raises(BacktestConfigError, match="participation"):
        BacktestConfig(participation=0.0)
    with pytest.raises(BacktestConfigError, match="remainder"):
        BacktestConfig(remainder="later")
    with pytest.raises(BacktestConfigError, match="cash_buffer"):
        BacktestConfig(cash_buffer=1.0)


def test_prepared_inputs_are_reused_only_for_the_same_panel_and_settings():
    from workers.engine.backtest import build_inputs

    panel = random_panel(8, T=20, N=3)
    config = BacktestConfig()
    inputs = build_inputs(panel, config)
    targets = np.full(panel.shape, 0.3)
    a = run_backtest(panel, config, targets=targets, inputs=inputs)
    b = run_backtest(panel, config, targets=targets)
    np.testing.assert_array_equal(a.equity, b.equity)
    with pytest.raises(BacktestInputError, match="another"):
        run_backtest(panel, BacktestConfig(participation=0.2), targets=targets, inputs=inputs)
