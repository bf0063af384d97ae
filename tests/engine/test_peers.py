"""Peer cross-check: the same MA-crossover strategy in this engine, backtrader and vectorbt gives the
same trades (dates, sides, share quantities) and the same final equity on real daily bars."""

import numpy as np
import pytest

from workers.engine.backtest import peers

pytestmark = pytest.mark.skipif(
    not peers.CSVDIR.exists(), reason=f"zipline csvdir samples {peers.CSVDIR} are absent"
)

SETTINGS = dict(fast=10, slow=30, cash=100_000.0, invest=0.9)


def same_trades(a, b) -> bool:
    if len(a) != len(b):
        return False
    return all(
        da == db and sa == sb and np.isclose(qa, qb, rtol=1e-12, atol=0)
        for (da, sa, qa), (db, sb, qb) in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("symbol", ["AAPL", "MSFT"])
@pytest.mark.parametrize("integer", [False, True])
def test_same_trades_and_equity_as_backtrader_and_vectorbt(symbol, integer):
    df = peers.load_csvdir(symbol)
    ours = peers.ours(df, integer=integer, **SETTINGS)
    bt = peers.backtrader(df, integer=integer, **SETTINGS)
    vb = peers.vectorbt(df, integer=integer, **SETTINGS)
    assert len(ours.trades) >= 10  # a real test: the strategy trades
    assert same_trades(ours.trades, bt.trades), (ours.trades[:4], bt.trades[:4])
    assert same_trades(ours.trades, vb.trades), (ours.trades[:4], vb.trades[:4])
    assert ours.final_equity == pytest.approx(bt.final_equity, rel=1e-9)
    assert ours.final_equity == pytest.approx(vb.final_equity, rel=1e-9)
    np.testing.assert_allclose(ours.equity, vb.equity, rtol=1e-9)
    if integer:
        assert all(q == int(q) for _, _, q in ours.trades)


def test_a_different_rule_gives_different_trades():
    # guards against a comparison that passes whatever the engines do
    df = peers.load_csvdir("AAPL")
    a = peers.ours(df, integer=False, **SETTINGS)
    b = peers.ours(df, integer=False, **{**SETTINGS, "fast": 5})
    assert not same_trades(a.trades, b.trades)
