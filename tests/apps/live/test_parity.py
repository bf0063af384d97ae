"""Paper cycles over the real hourly fixture produce the orders of the backtest engine over the
same hours (bench/_parity.py does the comparison).

A paper account trades every bar of three imported sessions of 40 real names from the first bar,
so the cycles' anchor (`data.anchor_date`) is the panel's first bar and the backtest from the
anchor starts with the account's cash at the account's first bar. The engine's backtest then runs
as research runs it (`backtest_pipeline`: the allocator path), in whole shares as the desk trades,
over the cycle panel of the last bar. At every cycle bar where the account holds the backtest's
positions, the cycle's share orders (its decision record's and the Order rows it committed) must
be the backtest's orders row, and its target weights the backtest's target weights.

Two differences are explained, not loosened:
- The account's equity is its Decimal ledger (fees to 6 decimals), the backtest's a float: they
  differ by ~1e-7 dollars, which moves the optimizer's weights (current weights = positions x
  marks / equity) by ~1e-13. Fed the backtest's own account state, one kernel over the same
  database panel gives the backtest's weights bit for bit (0).
- An order may not fill as the backtest's: the desk sends protective limits and the venue checks
  buying power at the limit, the backtest fills market orders at the next open and scales buys to
  its cash. The first bar whose positions differ ends the comparison; every name that differs must
  be such an order (a buy refused for buying power, or a limit the next open gapped past).
"""

from __future__ import annotations

import numpy as np
import pytest

from apps.live.cycle.data import anchor_date, cycle_panel
from apps.live.cycle.run import cycle_run
from bench._parity import BUYING_POWER, LIMIT_GAP, paper_parity
from workers.engine.backtest.governor import STATES
from workers.engine.decide.kernel import AccountState, GovernorState, Kernel
from workers.engine.decide.research import backtest_pipeline

from .cycle_support import CONFIG, import_fixture, paper_desk

pytestmark = pytest.mark.django_db(transaction=True)

# 40 Nasdaq-100 names of the fixture (QQQ, its benchmark, left out); 3 sessions of 6 hourly bars.
NAMES = (
    "AAPL", "ABNB", "ADBE", "ADI", "ADP", "ADSK", "AEP", "AMAT", "AMD", "AMGN",
    "AMZN", "APP", "ARM", "ASML", "AVGO", "AXON", "AZN", "BIIB", "BKNG", "BKR",
    "CCEP", "CDNS", "CDW", "CEG", "CHTR", "CMCSA", "COST", "CPRT", "CRWD", "CSCO",
    "CSGP", "CSX", "CTAS", "CTSH", "DASH", "DDOG", "DXCM", "EA", "EXC", "FANG",
)  # fmt: skip
SESSIONS = 3

TOPK = {**CONFIG, "optimizer": {"allocator": "topk", "top_k": 10, "max_weight": 0.1}}
OPTIMIZED = {
    **CONFIG,
    "optimizer": {"allocator": "optimizer", "max_weight": 0.1, "sector_cap": 0.5, "solver": "CLARABEL"},
}


def _paper_and_backtest(people, tmp_path, config):
    stamps = import_fixture(tmp_path, symbols=NAMES, days=SESSIONS)
    account, version = paper_desk(people, symbols=NAMES, config=config, name="parity")
    runs = [cycle_run(account=account, bar_time=ts, trigger="manual") for ts in stamps]
    assert all(r.status == "succeeded" for r in runs), [(r.bar_time, r.reason, r.error) for r in runs]
    assert all(r.decision["kernel"] == "continued" for r in runs[1:])  # one kernel fed every bar
    panel = cycle_panel(
        strategy=version.strategy,
        anchor=anchor_date(account=account, version=version, bar_time=stamps[-1]),
        bar_time=stamps[-1],
    ).panel
    assert panel.shape == (len(stamps), len(NAMES)) and panel.index[0] == np.datetime64(
        runs[0].decision["ts"]
    )
    outcome = backtest_pipeline(
        panel=panel, config=version.config, progress=lambda *_: None, integer_shares=True
    )
    assert outcome.start_row == 0
    return version, runs, panel, outcome.result


def _same_inputs_weight_diff(config, panel, result) -> float:
    """One kernel fed, bar by bar, the backtest's own account state over the cycle panel."""
    kernel = Kernel(config, integer_shares=True)
    worst = 0.0
    for t in range(panel.shape[0] - 1):
        governor = GovernorState()
        if t > 0:
            governor = GovernorState(STATES[result.risk_state[t - 1]], float(result.equity[:t].max()))
        account = AccountState(
            positions=result.positions[t].copy(),
            cash=float(result.cash[t]),
            equity=result.equity[: t + 1].copy(),
            governor=governor,
        )
        d = kernel.decide(panel.slice_rows(t + 1), account)
        np.testing.assert_array_equal(d.orders, result.orders[t], err_msg=f"bar {t}")
        worst = max(worst, float(np.max(np.abs(d.weights - result.target_weights[t]))))
    return worst


@pytest.mark.parametrize(
    ("config", "weight_tol"),
    [
        pytest.param(TOPK, 0.0, id="momentum-topk"),  # equal weights: the equity does not enter
        pytest.param(OPTIMIZED, 1e-12, id="momentum-optimizer"),  # the ledger's 1e-6 fee rounding
    ],
)
def test_paper_cycles_send_the_backtests_orders(people, tmp_path, config, weight_tol):
    version, runs, panel, result = _paper_and_backtest(people, tmp_path, config)
    parity = paper_parity(runs, panel, result)
    summary = parity.summary()
    # Not vacuous: a session of warm-up (momentum's lookback), then trading on most bars.
    assert parity.bars >= 12 and parity.traded_bars >= 6 and parity.orders >= 50, summary
    assert parity.orders_differ == [] and parity.committed_differ == [], summary
    assert parity.max_weight_diff <= weight_tol, summary
    if parity.parted_at is not None:
        assert parity.parted and all(p.kind in (BUYING_POWER, LIMIT_GAP) for p in parity.parted), summary
        assert all(p.paper_fill != p.backtest_fill for p in parity.parted), summary
    assert _same_inputs_weight_diff(version.config, panel, result) == 0.0
