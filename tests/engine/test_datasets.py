"""load_daily_sp500 adjusts for splits by default: no fake split-day returns reach the engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench._data import DAILY_PARQUET, daily_sp500_splits, load_daily_sp500

pytestmark = pytest.mark.skipif(not DAILY_PARQUET.exists(), reason=f"{DAILY_PARQUET} is absent")

NAMES = ["AAPL", "TSLA", "NVDA", "ANTM"]


def returns(panel, symbol: str) -> pd.Series:
    j = panel.symbols.index(symbol)
    c = panel.close[:, j]
    r = np.full(len(c), np.nan)
    r[1:] = c[1:] / c[:-1] - 1
    dates = pd.DatetimeIndex(panel.index).tz_localize("UTC").tz_convert("America/New_York").normalize()
    return pd.Series(r, index=dates.tz_localize(None))


def test_split_days_are_continuous_by_default_and_raw_on_request():
    adj = load_daily_sp500(symbols=NAMES, start="2014-01-01")
    raw = load_daily_sp500(symbols=NAMES, start="2014-01-01", adjust_splits=False)
    for symbol, day in (("AAPL", "2014-06-09"), ("AAPL", "2020-08-31"), ("TSLA", "2020-08-31")):
        assert returns(raw, symbol).loc[day] < -0.7
        assert abs(returns(adj, symbol).loc[day]) < 0.15
    # the last bar is untouched (no split after it), earlier bars are in today's shares
    np.testing.assert_array_equal(adj.close[-1], raw.close[-1])
    j = adj.symbols.index("AAPL")
    assert adj.close[0, j] == pytest.approx(raw.close[0, j] / 28, rel=1e-15)
    assert adj.volume[0, j] == pytest.approx(raw.volume[0, j] * 28, rel=1e-15)
    assert np.nanmax(np.abs(returns(adj, "AAPL").to_numpy())) < 0.2


def test_window_end_limits_the_splits_applied():
    adj = load_daily_sp500(symbols=["AAPL"], start="2014-01-01", end="2020-01-01")
    raw = load_daily_sp500(symbols=["AAPL"], start="2014-01-01", end="2020-01-01", adjust_splits=False)
    assert adj.close[0, 0] == pytest.approx(raw.close[0, 0] / 7, rel=1e-15)  # not / 28


def test_contradicted_vendor_split_is_not_applied():
    splits = daily_sp500_splits()
    assert not ((splits["symbol"] == "ANTM") & (splits["ex_date"] == "2002-03-18")).any()
    adj = load_daily_sp500(symbols=["ANTM"], start="2002-03-01", end="2002-04-01")
    assert abs(returns(adj, "ANTM").loc["2002-03-18"]) < 0.05  # the raw price did not move either
