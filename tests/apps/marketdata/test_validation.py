"""Validation rules, one test per rule, on small hand-made files and on real bad rows.

Validation is pure pandas, so these tests need no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from apps.marketdata.services import BarFileError
from apps.marketdata.services.reading import bar_file_read
from apps.marketdata.services.validation import Reason, bars_validate

from .conftest import HEADER, fixture_file, shared_file

GOOD_H = "AAPL,2021-03-15 10:00:00,10,11,9,10.5,100"
GOOD_D = "AAPL,2021-03-15,10,11,9,10.5,100"


def validate(path, freq="1h", tz="America/New_York"):
    return bars_validate(bar_file_read(path), freq=freq, tz=tz)


@pytest.mark.parametrize(
    ("row", "freq", "reason"),
    [
        (",2021-03-15 10:00:00,10,11,9,10.5,100", "1h", Reason.MISSING_SYMBOL),
        ("   ,2021-03-15 10:00:00,10,11,9,10.5,100", "1h", Reason.MISSING_SYMBOL),
        ("ABCDEFGHIJKLMNOPQ,2021-03-15 10:00:00,10,11,9,10.5,100", "1h", Reason.SYMBOL_TOO_LONG),
        ("AAPL,,10,11,9,10.5,100", "1h", Reason.MISSING_TIMESTAMP),
        ("AAPL,15th of March,10,11,9,10.5,100", "1h", Reason.UNPARSEABLE_TIMESTAMP),
        ("AAPL,1066-10-16,10,11,9,10.5,100", "1d", Reason.TIMESTAMP_OUT_OF_RANGE),
        ("AAPL,1899-12-29 10:00:00,10,11,9,10.5,100", "1h", Reason.TIMESTAMP_OUT_OF_RANGE),
        ("AAPL,2021-03-15 10:00:00,,11,9,10.5,100", "1h", Reason.missing("open")),
        ("AAPL,2021-03-15 10:00:00,10,NaN,9,10.5,100", "1h", Reason.missing("high")),
        ("AAPL,2021-03-15 10:00:00,10,11,9,10.5,", "1h", Reason.missing("volume")),
        ("AAPL,2021-03-15 10:00:00,10,11,abc,10.5,100", "1h", Reason.unparseable("low")),
        ("AAPL,2021-03-15 10:00:00,10,11,9,inf,100", "1h", Reason.non_finite("close")),
        ("AAPL,2021-03-15 10:00:00,10,11,9,10.5,-Infinity", "1h", Reason.non_finite("volume")),
        ("AAPL,2021-03-15 10:00:00,10,11,9,10.5,1e19", "1h", Reason.VOLUME_OUT_OF_RANGE),
        ("AA PL,2021-03-15 10:00:00,10,11,9,10.5,100", "1h", Reason.SYMBOL_CHARACTERS),
        ("AAPL;DROP,2021-03-15 10:00:00,10,11,9,10.5,100", "1h", Reason.SYMBOL_CHARACTERS),
        ("$SPX,2021-03-15 10:00:00,10,11,9,10.5,100", "1h", Reason.SYMBOL_CHARACTERS),
        ("BRK.,2021-03-15 10:00:00,10,11,9,10.5,100", "1h", Reason.SYMBOL_CHARACTERS),
        ("AAPL,2021-03-15 10:00:00,0,11,0,10.5,100", "1h", Reason.NON_POSITIVE_PRICE),
        ("AAPL,2021-03-15 10:00:00,-1,11,-2,10.5,100", "1h", Reason.NON_POSITIVE_PRICE),
        ("AAPL,2021-03-15 10:00:00,10,100000000000,9,10.5,100", "1h", Reason.PRICE_OUT_OF_RANGE),
        ("AAPL,2021-03-15 10:00:00,10,10.4,9,10.5,100", "1h", Reason.HIGH_BELOW_OPEN_CLOSE),
        ("AAPL,2021-03-15 10:00:00,10,11,10.2,10.5,100", "1h", Reason.LOW_ABOVE_OPEN_CLOSE),
        ("AAPL,2021-03-15 10:00:00,10,11,9,10.5,-5", "1h", Reason.NEGATIVE_VOLUME),
        ("AAPL,2021-03-15 10:00:00,10,11,9,10.5,100.5", "1h", Reason.NON_INTEGER_VOLUME),
        ("AAPL,2021-03-15 10:30:00,10,11,9,10.5,100", "1h", Reason.OFF_GRID_HOURLY_MINUTE),
        ("AAPL,2021-03-15 03:00:00,10,11,9,10.5,100", "1h", Reason.OFF_GRID_HOURLY_SESSION),
        ("AAPL,2021-03-15 21:00:00,10,11,9,10.5,100", "1h", Reason.OFF_GRID_HOURLY_SESSION),
        ("AAPL,2021-03-14 02:30:00,10,11,9,10.5,100", "1h", Reason.NONEXISTENT_LOCAL_TIME),
        ("AAPL,2021-11-07 01:00:00,10,11,9,10.5,100", "1h", Reason.AMBIGUOUS_LOCAL_TIME),
        ("AAPL,2021-03-13,10,11,9,10.5,100", "1d", Reason.OFF_GRID_WEEKEND),
        ("AAPL,2021-03-14,10,11,9,10.5,100", "1d", Reason.OFF_GRID_WEEKEND),
        ("AAPL,2021-03-15 16:00:00,10,11,9,10.5,100", "1d", Reason.OFF_GRID_DAILY_TIME),
    ],
)
def test_each_rule_rejects_its_row_and_keeps_the_good_one(write_csv, row, freq, reason):
    good = GOOD_H if freq == "1h" else GOOD_D
    result = validate(write_csv(good, row, "MSFT" + good[4:]), freq=freq)
    assert result.reason_counts == {reason: 1}
    rejected = result.rejects.iloc[0]
    assert rejected["row"] == 2 and rejected["reason"] == reason
    assert list(result.valid["row"]) == [1, 3]


def test_share_class_tickers_are_valid_symbols(write_csv):
    result = validate(write_csv("BRK.B" + GOOD_H[4:], "BF-B" + GOOD_H[4:], "brk.a" + GOOD_H[4:]))
    assert result.rejects.empty and list(result.valid["symbol"]) == ["BRK.B", "BF-B", "BRK.A"]


def test_a_bar_ending_after_now_plus_the_tolerance_is_rejected(write_csv):
    # Daily bars end at the 16:00 New York close: 2021-03-15's ends 20:00 UTC (EDT).
    rows = ("AAPL,2021-03-12,10,11,9,10.5,100", "AAPL,2021-03-15,10,11,9,10.5,100")
    frame = bar_file_read(write_csv(*rows))
    tolerance = timedelta(minutes=5)
    before_close = datetime(2021, 3, 15, 19, 56, tzinfo=UTC)  # 20:00 is within now + 5 min
    assert bars_validate(frame, freq="1d", now=before_close, future_tolerance=tolerance).rejects.empty
    early = datetime(2021, 3, 15, 19, 54, tzinfo=UTC)
    result = bars_validate(frame, freq="1d", now=early, future_tolerance=tolerance)
    assert result.reason_counts == {Reason.future(tolerance): 1}
    assert result.rejects.iloc[0]["row"] == 2 and "later than the import time + 300 s" in Reason.future(
        tolerance
    )


@pytest.mark.parametrize(
    ("dividend", "split", "reason"),
    [
        ("inf", "1", Reason.non_finite("dividend_amount")),
        ("0.5", "-inf", Reason.non_finite("split_coefficient")),
        ("1e12", "1", Reason.out_of_range("dividend_amount", 1e10)),
        ("0", "1e10", Reason.out_of_range("split_coefficient", 1e10)),
        ("abc", "1", Reason.unparseable("dividend_amount")),
    ],
)
def test_corporate_action_values_must_be_finite_and_storable(write_csv, dividend, split, reason):
    header = HEADER.rstrip("\n") + ",dividend_amount,split_coefficient\n"
    result = validate(
        write_csv(f"{GOOD_D},0,1", f"MSFT{GOOD_D[4:]},{dividend},{split}", header=header), freq="1d"
    )
    assert result.reason_counts == {reason: 1} and list(result.valid["row"]) == [1]


def test_non_finite_prices_in_a_typed_parquet_column_get_their_own_reason(tmp_path):
    frame = pd.DataFrame(
        {
            "symbol": ["AAPL", "MSFT"],
            "timestamp": pd.to_datetime(["2021-03-15", "2021-03-15"]),
            "open": [10.0, float("inf")],
            "high": [11.0, 11.0],
            "low": [9.0, 9.0],
            "close": [10.5, float("nan")],
            "volume": [100, 100],
        }
    )
    result = bars_validate(frame, freq="1d")
    assert result.reason_counts == {Reason.non_finite("open"): 1}


def test_duplicates_reject_every_copy_but_not_other_symbols(write_csv):
    result = validate(write_csv(GOOD_H, GOOD_H.replace("10.5", "10.6"), "MSFT" + GOOD_H[4:]))
    assert result.reason_counts == {Reason.DUPLICATE: 2}
    assert list(result.rejects["row"]) == [1, 2]
    assert list(result.valid["symbol"]) == ["MSFT"]


def test_a_row_is_reported_once_under_its_first_broken_rule(write_csv):
    # missing open AND negative volume AND off grid: reported as missing open only.
    result = validate(write_csv("AAPL,2021-03-15 10:30:00,,11,9,10.5,-1"))
    assert result.reason_counts == {Reason.missing("open"): 1}


def test_rejects_keep_the_file_text(write_csv):
    result = validate(write_csv("  msft ,15th of March,10,11,9,10.5,100"))
    assert result.rejects.iloc[0][["symbol", "timestamp"]].tolist() == ["  msft ", "15th of March"]


def test_hourly_stamps_convert_to_utc_across_both_dst_switches(write_csv):
    rows = [
        "SPY,2021-03-12 10:00:00,10,11,9,10.5,1",  # Friday before spring-forward: EST, UTC-5
        "SPY,2021-03-14 10:00:00,10,11,9,10.5,1",  # the switch day, after 02:00: EDT, UTC-4
        "SPY,2021-03-15 10:00:00,10,11,9,10.5,1",
        "SPY,2021-11-05 10:00:00,10,11,9,10.5,1",  # Friday before fall-back: EDT
        "SPY,2021-11-07 10:00:00,10,11,9,10.5,1",  # the switch day, after 02:00: EST
        "SPY,2021-11-08 16:00:00,10,11,9,10.5,1",
    ]
    result = validate(write_csv(*rows))
    assert result.rejects.empty
    assert [t.isoformat() for t in result.valid["ts"]] == [
        "2021-03-12T15:00:00+00:00",
        "2021-03-14T14:00:00+00:00",
        "2021-03-15T14:00:00+00:00",
        "2021-11-05T14:00:00+00:00",
        "2021-11-07T15:00:00+00:00",
        "2021-11-08T21:00:00+00:00",
    ]


def test_source_time_zone_is_honoured(write_csv):
    result = validate(write_csv("SPY,2021-03-15 10:00:00,10,11,9,10.5,1"), tz="Europe/London")
    assert result.valid["ts"].iloc[0].isoformat() == "2021-03-15T10:00:00+00:00"


def test_stamps_with_their_own_offset_are_taken_at_that_instant(write_csv):
    result = validate(write_csv("SPY,2021-03-15T14:00:00+00:00,10,11,9,10.5,1"))
    assert result.valid["ts"].iloc[0].isoformat() == "2021-03-15T14:00:00+00:00"


def test_daily_bars_are_stamped_at_the_new_york_close(write_csv):
    result = validate(write_csv("SPY,2021-03-12,10,11,9,10.5,1", "SPY,2021-03-15,10,11,9,10.5,1"), freq="1d")
    assert [t.isoformat() for t in result.valid["ts"]] == [
        "2021-03-12T21:00:00+00:00",
        "2021-03-15T20:00:00+00:00",
    ]


def test_file_level_problems_raise_naming_the_problem(write_csv, tmp_path):
    with pytest.raises(BarFileError, match=r"missing required column\(s\) volume"):
        bar_file_read(write_csv("AAPL,2021-03-15,1,2,0.5,1.5", header="ticker,date,open,high,low,close\n"))
    (tmp_path / "bars.xlsx").write_bytes(b"PK")
    with pytest.raises(BarFileError, match="unsupported file type"):
        bar_file_read(tmp_path / "bars.xlsx")
    with pytest.raises(BarFileError, match="no such file"):
        bar_file_read(tmp_path / "absent.csv")
    (tmp_path / "broken.parquet").write_bytes(b"not a parquet file")
    with pytest.raises(BarFileError, match="cannot be read as parquet"):
        bar_file_read(tmp_path / "broken.parquet")
    frame = bar_file_read(write_csv(GOOD_D))
    with pytest.raises(BarFileError, match="unknown frequency '5m'"):
        bars_validate(frame, freq="5m")
    with pytest.raises(BarFileError, match="unknown time zone 'Mars/Olympus'"):
        bars_validate(frame, freq="1d", tz="Mars/Olympus")


def test_aliases_and_corporate_action_columns_of_the_quandl_sample():
    path = fixture_file("daily", "zipline_quandl_wiki_sample_2014_AAPL_BRKA_MSFT_ZEN.csv")
    result = validate(path, freq="1d")
    assert result.rejects.empty and result.rows_read == 916
    split = result.valid[result.valid["split_coefficient"] != 1]
    assert split[["symbol", "split_coefficient"]].values.tolist() == [["AAPL", 7.0]]
    assert str(split["local_date"].iloc[0].date()) == "2014-06-09"


def test_real_missing_open_in_the_kaggle_subset():
    path = fixture_file("daily", "kaggle_5yr_subset_30sym_2013_2018.csv.gz")
    result = validate(path, freq="1d")
    assert result.reason_counts == {Reason.missing("open"): 1}
    assert result.rejects.iloc[0].tolist() == [5088, "BHF", "2017-07-26", Reason.missing("open")]


@pytest.mark.shared_data
def test_real_kaggle_parquet_nan_opens_and_ohlc_violations():
    result = validate(shared_file("daily", "kaggle_sandp500_all_stocks_5yr_2013_2018.parquet"), freq="1d")
    assert result.rows_read == 619_040
    assert result.reason_counts == {
        Reason.missing("open"): 11,
        Reason.LOW_ABOVE_OPEN_CLOSE: 11,
        Reason.HIGH_BELOW_OPEN_CLOSE: 1,
    }


@pytest.mark.shared_data
def test_real_pooksoft_parquet_blank_symbols():
    frame = pd.read_parquet(shared_file("daily", "pooksoft_sp500_daily_adjusted_1999_2021.parquet"))
    frame = frame.rename(columns={"date": "timestamp"})
    result = bars_validate(frame, freq="1d")
    assert result.reason_counts == {Reason.MISSING_SYMBOL: 5402}
    assert len(result.valid) == 2_402_891 - 5402
