"""The decision kernel against the backtest, bar by bar, on the repository's real daily fixture.

The backtest runs a strategy config over the whole panel; the kernel is then asked at every bar
t for its decision from the panel up to t and the account state the simulator produced at the
close of t (positions, cash, equity so far, the governor's state after t-1). Its target weights
must equal the backtest's recorded target weights bit for bit, and its share orders the
backtest's orders row (fractional shares as research runs, and whole shares as the desk trades):
backtest/live parity.
"""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest

from bench._data import load_fixture_daily
from workers.engine.backtest.governor import STATES
from workers.engine.decide.configs import DecideConfigError
from workers.engine.decide.kernel import AccountState, GovernorState, Kernel, KernelInputError
from workers.engine.decide.research import backtest_pipeline

# The full shape `StrategyConfig.to_dict()` gives (apps/strategies/config.py), as a run stores it.
BASE = {
    "kind": "momentum",
    "universe": "sp500",
    "frequency": "1d",
    "research": {"start": "2018-01-01", "end": "2021-04-30"},
    "features": "all",
    "model": {"lookback": 60, "skip": 5},
    "walk_forward": {"train_bars": 2000, "retrain_every": 500, "mode": "expanding"},
    "optimizer": {
        "allocator": "optimizer",
        "top_k": 20,
        "max_weight": 0.25,
        "sector_cap": 0.5,
        "vol_min": None,
        "vol_max": None,
        "turnover_cap": None,
        "min_price": 5.0,
        "min_adv_dollar": 1e6,
        "risk_aversion": 1.0,
        "solver": "OSQP",
    },
    "costs": {"slippage_bps": 1.0, "half_spread_bps": 0.5, "impact_eta": 0.1, "commission_per_share": 0.0},
    "risk": {"conservative_dd": 0.10, "risk_off_dd": 0.15, "halt_dd": 0.20},
    "gates": {},
    "initial_cash": 1_000_000.0,
    "seed": 7,
}


def _config(**changes) -> dict:
    cfg = copy.deepcopy(BASE)
    for key, value in changes.items():
        if isinstance(value, dict) and key != "model":
            cfg[key].update(value)
        else:
            cfg[key] = value
    return cfg


@pytest.fixture(scope="module")
def panel():
    return load_fixture_daily(start="2019-06-01", end="2021-01-01")


def _account(result, t: int) -> AccountState:
    governor = GovernorState()
    if t > 0:
        governor = GovernorState(STATES[result.risk_state[t - 1]], float(result.equity[:t].max()))
    return AccountState(
        positions=result.positions[t].copy(),
        cash=float(result.cash[t]),
        equity=result.equity[: t + 1].copy(),
        governor=governor,
    )


def _parity(panel, config, *, integer_shares: bool = False) -> tuple[int, list]:
    result = backtest_pipeline(
        panel=panel, config=config, progress=lambda *_: None, integer_shares=integer_shares
    ).result
    kernel = Kernel(config, integer_shares=integer_shares)
    T = panel.shape[0]
    decisions = []
    for t in range(T - 1):  # the backtest decides at every bar but the last (nothing fills after it)
        d = kernel.decide(panel.slice_rows(t + 1), _account(result, t))
        np.testing.assert_array_equal(d.weights, result.target_weights[t], err_msg=f"bar {t}")
        np.testing.assert_array_equal(d.orders, result.orders[t], err_msg=f"orders at bar {t}")
        assert d.status == result.allocation_log[t][1]
        assert d.governor.state == STATES[result.risk_state[t]]
        assert d.drawdown == result.drawdown[t]
        decisions.append(d)
    traded = int((np.abs(result.fills) > 0).any(axis=1).sum())
    return traded, decisions


@pytest.mark.parametrize(
    ("changes", "integer_shares"),
    [
        pytest.param({}, False, id="momentum-osqp"),
        pytest.param({}, True, id="momentum-osqp-whole-shares"),
        pytest.param(
            {"optimizer": {"solver": "CLARABEL", "turnover_cap": 0.5, "vol_max": 0.25}},
            False,
            id="momentum-clarabel-turnover-vol",
        ),
        pytest.param(
            {"kind": "ma_crossover", "model": {"fast": 10, "slow": 40}, "optimizer": {"vol_max": 0.2}},
            False,
            id="ma-crossover-osqp-vol-search",
        ),
        pytest.param(
            {
                "kind": "mean_reversion",
                "model": {"lookback": 20, "entry_z": 0.5},
                "optimizer": {"allocator": "topk", "top_k": 4},
            },
            True,
            id="mean-reversion-topk-whole-shares",
        ),
    ],
)
def test_kernel_bar_by_bar_gives_the_backtests_weights_and_orders_bit_for_bit(panel, changes, integer_shares):
    traded, decisions = _parity(panel, _config(**changes), integer_shares=integer_shares)
    # Not vacuous: the strategy trades and holds something on most bars.
    assert traded > 20
    assert sum(float(d.weights.sum()) > 0.2 for d in decisions) > len(decisions) // 4


def test_kernel_follows_the_governor_into_a_drawdown(panel):
    """Tight thresholds put the governor through its states in this window; the kernel resumed
    from (state, peak) each bar agrees with the backtest's governor at every bar."""
    cfg = _config(risk={"conservative_dd": 0.02, "risk_off_dd": 0.04, "halt_dd": 0.08})
    _, decisions = _parity(panel, cfg)
    states = {d.governor.state for d in decisions}
    assert {"conservative", "risk_off"} <= states
    assert any(d.exposure_cap < 1.0 and d.bound["exposure_cap"] for d in decisions)


def test_decision_record_names_the_signal_status_and_binding_constraints(panel):
    cfg = _config(optimizer={"solver": "CLARABEL", "max_weight": 0.2, "turnover_cap": 0.3})
    kernel = Kernel(cfg)
    n = panel.shape[1]
    t = 200
    start = AccountState(positions=np.zeros(n), cash=1e6, equity=np.full(t + 1, 1e6))
    d = kernel.decide(panel.slice_rows(t + 1), start)
    assert d.t == t and d.ts == panel.index[t]
    assert d.status == "optimal"
    # From cash, the turnover cap of 0.3 is what stops the book at 30% invested.
    assert d.bound["max_turnover"] is True
    assert d.weights.sum() == pytest.approx(0.3, rel=1e-4)
    record = d.to_record(panel.symbols)
    assert set(record["weights"]) == set(panel.symbols)
    assert record["governor"]["state"] == "normal" and record["status"] == "optimal"
    # The signal is the rule's score at t, NaN (None in the record) for names without a view.
    assert np.isfinite(d.signal).any()
    assert all(v is None or np.isfinite(v) for v in record["signal"].values())


def test_kernel_refuses_bad_account_state_and_a_missing_model(panel):
    kernel = Kernel(_config())
    sub = panel.slice_rows(100)
    with pytest.raises(KernelInputError, match="one entry per panel symbol"):
        kernel.decide(sub, AccountState(positions=np.zeros(3), cash=1e6, equity=np.ones(100)))
    with pytest.raises(KernelInputError, match="long-only"):
        kernel.decide(sub, AccountState(positions=-np.ones(sub.shape[1]), cash=1e6, equity=np.ones(100)))
    with pytest.raises(DecideConfigError, match="needs its trained model"):
        Kernel(_config(kind="ridge", model={"alpha": 1e-3}))
    with pytest.raises(DecideConfigError, match="takes no model"):
        Kernel(_config(), model=object())


def test_kernel_with_a_trained_model_scores_like_the_whole_panel_features(panel):
    """A learned kind decides from its trained model on the live feature path (the last row only,
    `compute_features_last`); its scores match the model on the whole-panel features at the same
    bar, and a top-k book built on them is the backtest's."""
    from workers.engine.backtest import run_backtest
    from workers.engine.decide.configs import allocator_for, backtest_config
    from workers.engine.decide.research import train_pipeline
    from workers.engine.features import compute_features
    from workers.engine.models import model_to_dict

    cfg = _config(
        kind="ridge",
        model={"alpha": 1e-3},
        features="price",
        optimizer={"allocator": "topk", "top_k": 4},
    )
    train = panel.slice_rows(200)
    trained = train_pipeline(panel=train, config=cfg, progress=lambda *_: None)
    fs = compute_features(panel, trained.feature_names, dtype=np.float64)
    bars = range(200, 260)
    alpha = np.full((bars.stop, panel.shape[1]), np.nan)  # no view (all cash) before bar 200
    for t in bars:
        alpha[t] = trained.model.predict_cross_section(fs.values[:, t, :].T, panel.member[t])
    history = panel.slice_rows(bars.stop)
    result = run_backtest(history, backtest_config(cfg), allocator=allocator_for(cfg), alpha=alpha)
    # As the live desk will build it: from the version's stored artifact bytes.
    kernel = Kernel.from_artifact(cfg, json.dumps(model_to_dict(trained.model)).encode())
    for t in bars[:-1]:
        d = kernel.decide(panel.slice_rows(t + 1), _account(result, t))
        np.testing.assert_allclose(d.signal, alpha[t], rtol=1e-9, atol=1e-12, err_msg=f"bar {t}")
        np.testing.assert_array_equal(d.weights, result.target_weights[t], err_msg=f"bar {t}")
    assert np.isfinite(alpha[bars.start]).sum() >= 4 and (np.abs(result.fills) > 0).any()


def test_the_kernel_imports_nothing_from_the_apps():
    """The live cycle and the backtest share the kernel only if it stands on the engine alone."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "import workers.engine.decide.kernel, workers.engine.decide.research\n"
        "print(','.join(sorted(m for m in sys.modules if m == 'apps' or m.startswith('apps.'))))\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_decision_record_names_the_sectors_above_the_soft_cap(panel):
    """A soft cap is a penalty, not a limit: with strong views and a tiny penalty the book runs
    above it, and the record names the sectors that are."""
    cfg = _config(optimizer={"solver": "CLARABEL", "max_weight": 0.5, "sector_cap": 0.5})
    kernel = Kernel(cfg)
    t = 300
    account = AccountState(positions=np.zeros(panel.shape[1]), cash=1e6, equity=np.full(t + 1, 1e6))
    # Only XOM keeps its sector: the rest have none known, so "unknown" must be reported as such.
    xom = panel.symbols.index("XOM")
    sector = np.where(np.arange(panel.shape[1]) == xom, panel.sector, -1)
    prefix = dataclasses.replace(panel.slice_rows(t + 1), sector=sector)
    d = kernel.decide(prefix, account)
    sums: dict[str, float] = {}
    for sector, w in zip(prefix.sector, d.weights, strict=True):
        name = panel.sector_names[sector] if sector >= 0 else "unknown"
        sums[name] = sums.get(name, 0.0) + float(w)
    over = sorted(name for name, v in sums.items() if v > 0.5 * (1 + 1e-6))
    assert over  # not vacuous: some sector does run above the soft cap here
    assert d.bound["sector_soft_cap"] == over
    assert "unknown" in over
