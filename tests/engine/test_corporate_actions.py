"""Split back-adjustment on real rows: continuity across ex-dates, agreement with vendors' adjusted
prices (Alpha Vantage, Quandl WIKI), panel == long, Django-shaped input, bad input."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from bench._data import DAILY_PARQUET, SHARED_DATA
from workers.engine import corporate_actions as ca
from workers.engine.market import daily_stamp_utc
from workers.engine.panel import wide_panel

FIXTURE = (
    SHARED_DATA / "fixtures_small" / "daily" / "pooksoft_subset_10sym_2018_2021_raw_adj_div_split.csv.gz"
)
QUANDL = SHARED_DATA / "zipline_samples" / "quandl_wiki_sample.csv"

needs_fixture = pytest.mark.skipif(not FIXTURE.exists(), reason=f"{FIXTURE} is absent")
needs_quandl = pytest.mark.skipif(not QUANDL.exists(), reason=f"{QUANDL} is absent")
needs_daily = pytest.mark.skipif(not DAILY_PARQUET.exists(), reason=f"{DAILY_PARQUET} is absent")


def close_returns(frame: pd.DataFrame, symbol: str) -> pd.Series:
    s = frame[frame["symbol"] == symbol].set_index("date")["close"]
    return s / s.shift() - 1.0


@pytest.fixture(scope="module")
def subset() -> pd.DataFrame:
    return pd.read_csv(FIXTURE, parse_dates=["date"])


@pytest.fixture(scope="module")
def aapl_history() -> pd.DataFrame:
    df = pd.read_parquet(DAILY_PARQUET, filters=[("symbol", "==", "AAPL")])
    return df.sort_values("date").reset_index(drop=True)


# -- the real daily set ------------------------------------------------------------------------


@needs_daily
def test_aapl_split_days_are_continuous_after_adjustment(aapl_history):
    splits = ca.vendor_splits(aapl_history)
    assert list(zip(splits["ex_date"].dt.strftime("%Y-%m-%d"), splits["ratio"], strict=True)) == [
        ("2000-06-21", 2.0),
        ("2005-02-28", 2.0),
        ("2014-06-09", 7.0),  # the vendor says 7.000007: snapped
        ("2020-08-31", 4.0),
    ]
    raw = close_returns(aapl_history, "AAPL")
    adj = close_returns(ca.split_adjust(aapl_history, splits), "AAPL")
    for day, raw_return in (("2014-06-09", -0.855), ("2020-08-31", -0.742)):
        assert raw.loc[day] == pytest.approx(raw_return, abs=1e-3)
        assert abs(adj.loc[day]) < 0.10
    # no fake jumps left in 21 years of AAPL: the only > 40% move is the real 2000-09-29 crash
    big = lambda r: sorted(r.index[r.abs() > 0.4].strftime("%Y-%m-%d"))  # noqa: E731
    assert big(raw) == ["2000-06-21", "2000-09-29", "2005-02-28", "2014-06-09", "2020-08-31"]
    assert big(adj) == ["2000-09-29"]
    # cumulative: a 1999 price is in today's shares, 2 x 2 x 7 x 4 = 112 per original share
    first = aapl_history.iloc[0]
    out = ca.split_adjust(aapl_history.iloc[:1], splits)
    assert out["close"].iloc[0] == pytest.approx(first["close"] / 112, rel=1e-15)
    assert out["volume"].iloc[0] == pytest.approx(first["volume"] * 112, rel=1e-15)


@needs_daily
def test_only_contradicted_vendor_splits_are_flagged():
    df = pd.read_parquet(
        DAILY_PARQUET, columns=["symbol", "date", "open", "close", "dividend_amount", "split_coefficient"]
    )
    df = df[df["symbol"].str.len() > 0]
    splits = ca.vendor_splits(df)
    assert len(splits) == 473
    bad = ca.contradicted_splits(df, splits)
    assert [(s, d.strftime("%Y-%m-%d")) for s, d in zip(bad["symbol"], bad["ex_date"], strict=True)] == [
        ("ANTM", "2002-03-18"),
        ("GNRC", "2010-02-12"),
    ]


# -- the 10-symbol fixture: vendor adjusted_close cross-check ----------------------------------


@needs_fixture
def test_fixture_splits_match_vendor_adjusted_close(subset):
    splits = ca.vendor_splits(subset)
    assert {(s, d.strftime("%Y-%m-%d"), r) for s, d, r in splits.itertuples(index=False)} == {
        ("AAPL", "2020-08-31", 4.0),
        ("TSLA", "2020-08-31", 5.0),
    }
    adj = ca.split_adjust(subset, splits)
    for symbol in ("AAPL", "TSLA"):
        raw_r = close_returns(subset, symbol).loc["2020-08-31"]
        adj_r = close_returns(adj, symbol).loc["2020-08-31"]
        assert raw_r < -0.6 and abs(adj_r) < 0.15  # TSLA really rose 12.6% that day
    # TSLA pays no dividend: split-only adjustment must reproduce the vendor's adjusted_close
    tsla = adj[adj["symbol"] == "TSLA"]
    np.testing.assert_allclose(tsla["close"], tsla["adjusted_close"], rtol=1e-6)
    # AAPL's pre-split dividend is restated per adjusted share: $0.82 on 2020-08-07 -> $0.205
    aapl = adj[(adj["symbol"] == "AAPL") & (adj["dividend_amount"] > 0)].set_index("date")["dividend_amount"]
    assert aapl.loc["2020-08-07"] == pytest.approx(0.205, rel=1e-12)
    assert aapl.loc["2020-11-06"] == pytest.approx(0.205, rel=1e-12)  # paid after the split: as is
    # raw data untouched by the adjustment (a new frame comes back)
    assert subset.loc[subset["symbol"] == "TSLA", "close"].iloc[0] != tsla["close"].iloc[0]


@needs_fixture
def test_panel_and_long_adjustments_agree(subset):
    splits = ca.vendor_splits(subset)
    long = subset.assign(ts=daily_stamp_utc(subset["date"]), volume=subset["volume"].astype(float))
    cols = ["symbol", "ts", "open", "high", "low", "close", "volume"]
    panel = wide_panel(long[cols], freq="1d")
    from_panel = ca.split_adjust(panel, splits)
    from_long = wide_panel(ca.split_adjust(long[cols], splits, time_col="ts"), freq="1d")
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(from_panel, name), getattr(from_long, name))
    j = panel.symbols.index("AAPL")
    r = from_panel.close[1:, j] / from_panel.close[:-1, j] - 1
    assert np.nanmax(np.abs(r)) < 0.15
    assert from_panel.close[0, j] == panel.close[0, j] / 4


@needs_fixture
def test_django_corporate_action_rows_give_the_same_result(subset):
    floats = ca.vendor_splits(subset)
    django_rows = pd.DataFrame(
        {
            "symbol": ["TSLA", "AAPL", "ZZZZ"],  # a symbol without bars is ignored
            "ex_date": [dt.date(2020, 8, 31), dt.date(2020, 8, 31), dt.date(2020, 1, 2)],
            "ratio": [Decimal("5.00000000"), Decimal("4.00000000"), Decimal("3.00000000")],
        }
    )
    pd.testing.assert_frame_equal(ca.split_adjust(subset, django_rows), ca.split_adjust(subset, floats))


# -- Quandl WIKI AAPL 7:1 on 2014-06-09 ----------------------------------------------------------


@needs_quandl
def test_quandl_aapl_seven_for_one_matches_adjusted_columns():
    q = pd.read_csv(QUANDL, parse_dates=["date"])
    aapl = q[q["ticker"] == "AAPL"].rename(columns={"ticker": "symbol"}).reset_index(drop=True)
    splits = ca.vendor_splits(aapl, column="split_ratio")
    assert splits["ratio"].tolist() == [7.0]
    adj = ca.split_adjust(aapl, splits)
    # Quandl's adj_* are split AND dividend adjusted: between two ex-dividend dates they differ from
    # a split-only adjustment by one constant factor, across the split.
    ex_div = aapl.loc[aapl["ex-dividend"] > 0, "date"]
    lo, hi = ex_div[ex_div < "2014-06-09"].max(), ex_div[ex_div > "2014-06-09"].min()
    window = (aapl["date"] >= lo) & (aapl["date"] < hi)
    assert window.sum() > 50
    for col in ("open", "high", "low", "close"):
        k = adj.loc[window, col] / aapl.loc[window, f"adj_{col}"]
        assert k.std() / k.mean() < 1e-9, col
    np.testing.assert_allclose(adj.loc[window, "volume"], aapl.loc[window, "adj_volume"], rtol=1e-12)
    # ...and the constant is Quandl's factor for the dividends paid later (to 2018), not a split factor
    assert 1.0 < k.mean() < 1.1
    raw = close_returns(aapl, "AAPL").loc["2014-06-09"]
    assert raw < -0.85 and abs(close_returns(adj, "AAPL").loc["2014-06-09"]) < 0.10


# -- rules, by hand ------------------------------------------------------------------------------


def hand_bars() -> pd.DataFrame:
    dates = pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"])
    return pd.DataFrame(
        {
            "symbol": ["A"] * 4 + ["B"] * 4,
            "date": list(dates) * 2,
            "open": [100.0, 101, 50, 51, 10, 10, 40, 41],
            "high": [100.0, 101, 50, 51, 10, 10, 40, 41],
            "low": [100.0, 101, 50, 51, 10, 10, 40, 41],
            "close": [100.0, 101, 50, 51, 10, 10, 40, 41],
            "volume": [1000.0] * 8,
        }
    )


def test_cumulative_reverse_and_out_of_range_splits():
    splits = pd.DataFrame(
        {
            "symbol": ["A", "A", "B", "B"],
            "ex_date": ["2020-01-06", "2021-01-04", "2020-01-06", "2019-05-01"],
            "ratio": [2.0, 3.0, 0.25, 10.0],  # A: 2:1 then a later 3:1; B: 1-for-4 reverse, old 10:1
        }
    )
    out = ca.split_adjust(hand_bars(), splits)
    a = out[out["symbol"] == "A"]
    b = out[out["symbol"] == "B"]
    np.testing.assert_allclose(a["close"], [100 / 6, 101 / 6, 50 / 3, 51 / 3])
    np.testing.assert_allclose(a["volume"], [6000, 6000, 3000, 3000])
    np.testing.assert_allclose(b["close"], [40, 40, 40, 41])  # before 2020-01-06: x 4
    np.testing.assert_allclose(b["volume"], [250, 250, 1000, 1000])


def test_snap_ratio_removes_vendor_noise_only():
    assert ca.snap_ratio(7.000007) == 7.0
    assert ca.snap_ratio(1.499999) == 1.5
    assert ca.snap_ratio(0.333333) == pytest.approx(1 / 3, rel=1e-15)
    assert ca.snap_ratio(1.068833) == 1.068833  # a spin-off factor, not a noisy fraction


@pytest.mark.parametrize(
    ("splits", "message"),
    [
        (pd.DataFrame({"symbol": ["A"], "ex_date": ["2020-01-06"]}), "missing \\['ratio'\\]"),
        (pd.DataFrame({"symbol": ["A"], "ex_date": ["2020-01-06"], "ratio": [0.0]}), "finite number > 0"),
        (
            pd.DataFrame({"symbol": ["A"], "ex_date": ["2020-01-06"], "ratio": [np.nan]}),
            "for A on 2020-01-06",
        ),
        (pd.DataFrame({"symbol": ["A"], "ex_date": ["2020-01-06"], "ratio": ["two"]}), "not numeric"),
        (pd.DataFrame({"symbol": ["A"], "ex_date": ["not a date"], "ratio": [2.0]}), "not a date"),
        (
            pd.DataFrame({"symbol": ["A", "A"], "ex_date": ["2020-01-06"] * 2, "ratio": [2.0, 2.0]}),
            "two splits for A on 2020-01-06",
        ),
    ],
)
def test_bad_splits_are_rejected_with_the_reason(splits, message):
    with pytest.raises(ca.CorporateActionError, match=message):
        ca.split_adjust(hand_bars(), splits)


def test_bad_data_is_rejected():
    splits = pd.DataFrame({"symbol": ["A"], "ex_date": ["2020-01-06"], "ratio": [2.0]})
    with pytest.raises(ca.CorporateActionError, match="Panel or a long DataFrame"):
        ca.split_adjust(hand_bars().to_numpy(), splits)
    with pytest.raises(ca.CorporateActionError, match="missing \\['date'\\]"):
        ca.split_adjust(hand_bars().drop(columns="date"), splits, time_col="date")
