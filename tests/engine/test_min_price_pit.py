"""The optimizer's minimum-price filter reads the as-traded close known at the decision bar, not a
close back-adjusted by splits that happened later (issue 8, section 2).

Real data: the repository's daily fixture, AAPL 4:1 on 2020-08-31. In mid-2019 AAPL traded near
$200; back-adjusted by the later split its close reads about $50. With a $150 minimum price the
old filter made AAPL sell-only all year before the split, on a price nobody could trade at then.
"""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from bench._data import FIXTURE_DAILY, load_fixture_daily
from workers.engine.allocation import AllocationResult
from workers.engine.backtest import BacktestConfig, run_backtest
from workers.engine.decide.step import allocation_context
from workers.engine.optimizer import OptimizerConfig, TopKEqualWeight, compute_bounds


@pytest.fixture(scope="module")
def panel():
    return load_fixture_daily(start="2019-06-01", end="2021-01-01")


def _raw_closes(symbol: str) -> pd.Series:
    with gzip.open(FIXTURE_DAILY, "rt") as fh:
        raw = pd.read_csv(fh)
    raw = raw[raw["symbol"] == symbol]
    return pd.Series(raw["close"].to_numpy(), index=pd.to_datetime(raw["date"]))


class _Recording:
    """Any allocator, recording the price every context carried."""

    def __init__(self, inner) -> None:
        self.inner, self.prices = inner, {}

    def allocate(self, ctx) -> AllocationResult:
        self.prices[ctx.t] = np.array(ctx.price)
        return self.inner.allocate(ctx)


def test_backtest_allocator_sees_the_as_traded_close_on_every_bar(panel):
    alloc = _Recording(TopKEqualWeight(3, max_weight=0.34))
    alpha = np.where(panel.member, 1.0, np.nan)
    run_backtest(panel, BacktestConfig(), allocator=alloc, alpha=alpha)
    i = panel.symbols.index("AAPL")
    raw = _raw_closes("AAPL")
    dates = pd.DatetimeIndex(panel.index).normalize()
    seen = np.array([alloc.prices[t][i] for t in range(panel.shape[0] - 1)])
    expected = raw.reindex(dates[: len(seen)]).to_numpy()
    np.testing.assert_allclose(seen, expected, rtol=1e-12)
    # ... while the panel's own (adjusted) close before the ex-date is a quarter of it.
    before = dates[: len(seen)] < pd.Timestamp("2020-08-31")
    assert before.sum() > 250
    np.testing.assert_allclose(panel.close[: len(seen)][before, i] * 4, expected[before], rtol=1e-12)


def test_min_price_filter_admits_a_name_that_traded_above_it_before_a_later_split(panel):
    t = int(np.searchsorted(pd.DatetimeIndex(panel.index), pd.Timestamp("2019-07-01")))
    n = panel.shape[1]
    ctx = allocation_context(
        panel=panel,
        t=t,
        alpha_t=np.full(n, 1e-3),
        positions=np.zeros(n),
        equity=1e6,
        mark_t=panel.close[t],
        adv_dollar_t=np.full(n, 1e9),
        returns_window=np.zeros((60, n)),
        exposure_cap=1.0,
        allow_buys=True,
    )
    bounds = compute_bounds(ctx, OptimizerConfig(min_price=150.0, max_weight=0.2))
    aapl, ko = panel.symbols.index("AAPL"), panel.symbols.index("KO")
    assert panel.close[t, aapl] < 60 < 150 < ctx.price[aapl]  # adjusted ~$50, traded ~$200
    assert bounds.ub[aapl] == pytest.approx(0.2)  # buyable: it traded above the minimum
    assert bounds.ub[ko] == 0.0  # KO traded near $53: below the minimum, so the filter is live
