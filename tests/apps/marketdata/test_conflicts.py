"""A file that disagrees with stored bars, and bars from the future: rejected by default, named
row by row, never counted as "already stored", and nothing of a rejected file is written.
Runs on SQLite and PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from apps.marketdata.models import Bar, CorporateAction, ImportRun, Instrument
from apps.marketdata.services import bars_import
from apps.marketdata.services.bars import conflict_reason
from apps.marketdata.services.validation import Reason

pytestmark = pytest.mark.django_db

STORED = [
    "AAPL,2021-03-15,10,11,9,10.5,100",
    "AAPL,2021-03-16,10,11,9,10.5,100",
    "AAPL,2021-03-17,10,11,9,10.5,100",
]


@pytest.fixture
def stored(write_csv):
    run = bars_import(path=write_csv(*STORED, name="stored.csv"), freq="1d", source="vendor_a")
    assert run.status == "succeeded"
    return run


def _values():
    return list(
        Bar.objects.order_by("ts").values_list("ts__day", "open", "high", "low", "close", "volume", "source")
    )


def test_a_conflicting_file_is_rejected_naming_the_rows_and_writes_nothing(stored, write_csv):
    before = _values()
    other = write_csv(
        "AAPL,2021-03-15,10,11,9,10.5,100",  # identical: would be "already stored"
        "AAPL,2021-03-16,10,11.25,9,10.5,100",  # high differs
        "AAPL,2021-03-17,10,11,9,10.5,120",  # volume differs
        "AAPL,2021-03-18,10,11,9,10.5,100",  # new
        "NEWCO,2021-03-18,5,6,4,5.5,10",  # new instrument
        name="other.csv",
    )
    run = bars_import(path=other, freq="1d", source="vendor_b")
    assert run.status == ImportRun.Status.REJECTED and "nothing written" in run.message
    assert (run.rows_read, run.rows_valid, run.rows_rejected, run.rows_inserted, run.rows_existing) == (
        5,
        3,
        2,
        0,
        0,
    )
    assert run.reject_reasons == {conflict_reason("high"): 1, conflict_reason("volume"): 1}
    assert run.rejects == [
        {
            "row": 2,
            "symbol": "AAPL",
            "ts": "2021-03-16",
            "reason": "conflicts with the stored bar (high differ)",
        },
        {
            "row": 3,
            "symbol": "AAPL",
            "ts": "2021-03-17",
            "reason": "conflicts with the stored bar (volume differ)",
        },
    ]
    assert _values() == before
    assert not Instrument.objects.filter(symbol="NEWCO").exists()


def test_skip_invalid_keeps_the_stored_bars_and_reports_each_conflict(stored, write_csv):
    before = _values()
    other = write_csv(
        "AAPL,2021-03-15,10,11,9,10.5,100",
        "AAPL,2021-03-16,9.5,11,9,10.5,100",
        "AAPL,2021-03-17,10.01,11,9,10.5,101",
        "AAPL,2021-03-18,10,11,9,10.5,100",
        name="other.csv",
    )
    run = bars_import(path=other, freq="1d", source="vendor_b", skip_invalid=True)
    assert run.status == ImportRun.Status.PARTIAL
    assert (run.rows_valid, run.rows_rejected, run.rows_inserted, run.rows_existing) == (2, 2, 1, 1)
    assert run.reject_reasons == {conflict_reason("open"): 1, conflict_reason("open, volume"): 1}
    assert [r["row"] for r in run.rejects] == [2, 3]
    assert _values()[:3] == before
    assert _values()[3][0] == 18 and _values()[3][6] == "vendor_b"


def test_a_conflicting_row_brings_no_corporate_action_with_it(stored, write_csv):
    header = "symbol,date,open,high,low,close,volume,dividend_amount,split_coefficient\n"
    other = write_csv("AAPL,2021-03-16,10,11,9,10.4,100,0.2,1", header=header, name="div.csv")
    run = bars_import(path=other, freq="1d", source="vendor_b", skip_invalid=True)
    assert run.status == ImportRun.Status.REJECTED and run.reject_reasons == {conflict_reason("close"): 1}
    assert not CorporateAction.objects.exists()


def test_values_equal_at_the_stored_precision_are_already_stored_not_conflicts(write_csv):
    rows = [
        "A,2021-03-15 10:00:00,41.3780616595,41.3780616595,0.000001,0.0000014,1",
        "B,2021-03-15 10:00:00,123456789.123456,99999999999.999,10000.0001,123456789.000001,123456789012",
    ]
    assert bars_import(path=write_csv(*rows), freq="1h", source="x").status == "succeeded"
    # Different digits beyond the 6th decimal round to the same stored value.
    again = write_csv(rows[0].replace("41.3780616595", "41.37806159"), rows[1], name="again.csv")
    run = bars_import(path=again, freq="1h", source="y")
    assert (run.status, run.rows_inserted, run.rows_existing, run.rows_rejected) == ("succeeded", 0, 2, 0)
    assert Bar.objects.get(instrument__symbol="A").open == Decimal("41.378062")


def test_a_bar_from_the_future_is_rejected_with_the_tolerance_setting(write_csv, settings):
    settings.BAR_FUTURE_TOLERANCE = timedelta(minutes=10)
    ahead = date.today() + timedelta(days=7)
    monday = ahead + timedelta(days=(7 - ahead.weekday()) % 7)
    run = bars_import(
        path=write_csv("AAPL,2021-03-15,10,11,9,10.5,1", f"AAPL,{monday.isoformat()},10,11,9,10.5,1"),
        freq="1d",
        source="x",
    )
    assert run.status == "rejected" and run.reject_reasons == {Reason.future(timedelta(minutes=10)): 1}
    assert run.rejects[0]["row"] == 2 and not Bar.objects.exists()
    assert "later than the import time + 600 s" in run.message
