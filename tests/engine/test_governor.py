import numpy as np
import pytest

from tests.engine.conftest import make_panel
from workers.engine.allocation import AllocationResult
from workers.engine.backtest import (
    STATES,
    TRANSITIONS,
    BacktestConfig,
    Governor,
    GovernorConfig,
    GovernorError,
    run_backtest,
)
from workers.engine.costs import CostModel


def feed(gov: Governor, equities) -> list[str]:
    out = []
    for t, e in enumerate(equities):
        gov.update(t, e)
        out.append(gov.state)
    return out


def test_escalation_and_recovery_follow_the_thresholds():
    gov = Governor(GovernorConfig())
    states = feed(gov, [100, 95, 89.9, 86, 84, 79, 85, 96, 101])
    assert states == [
        "normal",
        "normal",  # 5% dd
        "conservative",  # 10.1%
        "conservative",  # 14%
        "risk_off",  # 16%
        "halted",  # 21%
        "halted",  # 15% dd: recovery only below 5%
        "normal",  # 4% dd
        "normal",
    ]
    hist = gov.history_array()
    assert [(int(b), f, t) for b, f, t, _ in hist] == [
        (2, "normal", "conservative"),
        (4, "conservative", "risk_off"),
        (5, "risk_off", "halted"),
        (7, "halted", "normal"),
    ]
    assert hist["drawdown"][0] == pytest.approx(0.101)


def test_a_crash_can_skip_levels():
    gov = Governor(GovernorConfig())
    feed(gov, [100, 70])
    assert gov.state == "halted" and not gov.allow_buys and gov.exposure_cap == 0.25
    assert gov.history == [(1, "normal", "halted", pytest.approx(0.3))]


def test_transition_table_is_complete_and_consistent():
    assert set(TRANSITIONS) == set(STATES)
    for src, dests in TRANSITIONS.items():
        assert src not in dests and set(dests) <= set(STATES)
    assert TRANSITIONS["halted"] == ("normal",)


def test_moves_outside_the_table_are_refused():
    gov = Governor(GovernorConfig())
    feed(gov, [100, 85.5])  # 14.5% drawdown
    assert gov.state == "conservative"
    gov.state = "halted"
    gov.target_state = lambda dd: "risk_off"  # a buggy policy
    with pytest.raises(GovernorError, match="halted -> risk_off"):
        gov.update(2, 90)


def test_bad_thresholds_are_named():
    with pytest.raises(GovernorError, match="thresholds"):
        GovernorConfig(conservative_dd=0.2, risk_off_dd=0.15)
    with pytest.raises(GovernorError, match="risk_off_exposure"):
        GovernorConfig(risk_off_exposure=1.5)


def test_governor_scales_targets_and_halts_buys_in_the_backtest():
    # a steady 5% fall per bar takes the book through every state
    prices = 100 * 0.95 ** np.arange(40)
    panel = make_panel(np.column_stack([prices, prices]))
    targets = np.full(panel.shape, 0.5)
    r = run_backtest(panel, BacktestConfig(costs=CostModel.zero()), targets=targets)
    names = list(r.risk_state_names)
    assert names[0] == "normal" and "conservative" in names and "risk_off" in names and names[-1] == "halted"
    assert names[:-1].count("halted") > 1  # the halted-bar check below has bars to check
    gross = np.nansum(r.target_weights, axis=1)
    for t, state in enumerate(names[:-1]):
        assert gross[t] <= r.exposure_cap[t] + 1e-12
        if state == "halted":
            assert (r.orders[t] <= 0).all()
    assert [h["to_state"] for h in r.risk_history] == ["conservative", "risk_off", "halted"]


def test_governor_feeds_the_allocation_context():
    seen = []

    class Recorder:
        def allocate(self, ctx):
            seen.append((ctx.t, ctx.exposure_cap, ctx.allow_buys))
            return AllocationResult(weights=np.where(ctx.tradable, 1.0, 0.0), status="baseline")

    prices = 100 * 0.85 ** np.arange(12)
    panel = make_panel(prices)
    run_backtest(
        panel, BacktestConfig(costs=CostModel.zero()), allocator=Recorder(), alpha=np.ones(panel.shape)
    )
    caps = {t: (cap, buys) for t, cap, buys in seen}
    assert caps[0] == (1.0, True)
    assert caps[2] == (0.5, True)  # 12.5% drawdown: conservative
    assert all(caps[t] == (0.25, False) for t in range(3, 11))  # 25% and deeper: halted
