"""Peer cross-check: the same MA-crossover strategy in this engine, backtrader and vectorbt gives the
same trades (dates, symbols, sides, share quantities) and the same final equity on real daily bars,
one name at a time and several names sharing one cash account."""

import numpy as np
import pytest

from bench._data import ZIPLINE_CSVDIR, load_csvdir
from workers.engine.backtest import peers

pytestmark = pytest.mark.skipif(
    not ZIPLINE_CSVDIR.exists(), reason=f"zipline csvdir samples {ZIPLINE_CSVDIR} are absent"
)

SETTINGS = dict(fast=10, slow=30, cash=100_000.0, invest=0.9)


def check_all_three(frames, integer: bool, min_trades: int = 10):
    ours = peers.ours(frames, integer=integer, **SETTINGS)
    bt = peers.backtrader(frames, integer=integer, **SETTINGS)
    vb = peers.vectorbt(frames, integer=integer, **SETTINGS)
    assert len(ours.trades) >= min_trades  # a real test: the strategy trades
    assert peers.same_trades(ours.trades, bt.trades), (ours.trades[:4], bt.trades[:4])
    assert peers.same_trades(ours.trades, vb.trades), (ours.trades[:4], vb.trades[:4])
    assert ours.final_equity == pytest.approx(bt.final_equity, rel=1e-9)
    assert ours.final_equity == pytest.approx(vb.final_equity, rel=1e-9)
    np.testing.assert_allclose(ours.equity, vb.equity, rtol=1e-9)
    if integer:
        assert all(q == int(q) for *_, q in ours.trades)
    return ours


@pytest.mark.parametrize("symbol", ["AAPL", "MSFT"])
@pytest.mark.parametrize("integer", [False, True])
def test_same_trades_and_equity_as_backtrader_and_vectorbt(symbol, integer):
    check_all_three(load_csvdir(symbol), integer)


@pytest.mark.parametrize("integer", [False, True])
def test_three_names_sharing_one_account(integer):
    frames = {s: load_csvdir(s) for s in ("AAPL", "IBM", "KO")}
    ours = check_all_three(frames, integer, min_trades=30)
    assert {sym for _, sym, _, _ in ours.trades} == set(frames)
    # each name trades on its own signals, as alone, but an entry buys a third of the shared account
    singles = {s: peers.ours(df, integer=integer, **SETTINGS).trades for s, df in frames.items()}
    assert [t[:3] for t in ours.trades] == sorted(
        (t[0], s, t[2]) for s, ts in singles.items() for t in ts
    )  # same signals per name...
    assert not peers.same_trades(
        ours.trades, sorted((t[0], s, *t[2:]) for s, ts in singles.items() for t in ts)
    )


def test_a_different_rule_gives_different_trades():
    # guards against a comparison that passes whatever the engines do
    df = load_csvdir("AAPL")
    a = peers.ours(df, integer=False, **SETTINGS)
    b = peers.ours(df, integer=False, **{**SETTINGS, "fast": 5})
    assert not peers.same_trades(a.trades, b.trades)


def test_frames_the_engines_cannot_share_are_rejected():
    aapl, ibm = load_csvdir("AAPL"), load_csvdir("IBM")
    with pytest.raises(peers.PeerDataError, match="IBM: dates differ"):
        peers.ours({"AAPL": aapl, "IBM": ibm.iloc[1:]}, integer=False, **SETTINGS)
    bad = aapl.copy()
    bad.loc[5, "close"] = np.nan
    with pytest.raises(peers.PeerDataError, match="AAPL: close must be finite"):
        peers.ours({"AAPL": bad}, integer=False, **SETTINGS)


def test_dyadic_prices_are_exact_binary_fractions_within_half_a_step():
    frames = {"AAPL": load_csvdir("AAPL")}
    out = peers.dyadic_prices(frames)["AAPL"]
    scaled = out["close"].to_numpy() * 256
    np.testing.assert_array_equal(scaled, np.round(scaled))
    assert np.abs(out["close"] - frames["AAPL"]["close"]).max() <= 1 / 512
