"""bars_import end to end on the database: all-or-nothing, skip-invalid, idempotence, DST,
corporate actions, transactional failure, the command, and the instruments import."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from apps.marketdata.models import Bar, CorporateAction, ImportRun, Instrument
from apps.marketdata.services import BarFileError, bars_import, instruments_import_sectors
from apps.marketdata.services.validation import Reason

from .conftest import HEADER, fixture_file

pytestmark = pytest.mark.django_db

ROWS = [
    "AAPL,2021-03-12 10:00:00,120,121,119,120.5,1000",
    "AAPL,2021-03-15 10:00:00,121,122.25,120,122,2000",
    "MSFT,2021-03-15 10:00:00,230,231,229,230.5,3000",
]
BAD = "MSFT,2021-03-15 11:00:00,230,229,228,230.5,3000"  # high below open


def test_clean_file_writes_every_bar_with_its_stamps(write_csv):
    run = bars_import(path=write_csv(*ROWS), freq="1h", source="handmade")
    assert (run.status, run.rows_read, run.rows_valid, run.rows_inserted, run.rows_existing) == (
        "succeeded",
        3,
        3,
        3,
        0,
    )
    assert len(run.file_sha256) == 64 and run.source_tz == "America/New_York"
    bar = Bar.objects.get(instrument__symbol="AAPL", ts=datetime(2021, 3, 15, 14, tzinfo=UTC))
    assert bar.known_at == bar.ts and bar.ingested_at >= run.created_at.replace(microsecond=0)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        Decimal("121"),
        Decimal("122.25"),
        Decimal("120"),
        Decimal("122"),
        2000,
    )
    assert (bar.frequency, bar.source, bar.import_run_id) == ("1h", "handmade", run.pk)
    assert Bar.objects.get(instrument__symbol="AAPL", ts__date=date(2021, 3, 12)).ts.hour == 15
    assert set(Instrument.objects.values_list("symbol", flat=True)) == {"AAPL", "MSFT"}


def test_one_bad_row_rejects_the_whole_file_and_writes_nothing(write_csv):
    run = bars_import(path=write_csv(*ROWS, BAD), freq="1h", source="handmade")
    assert run.status == ImportRun.Status.REJECTED
    assert (run.rows_read, run.rows_valid, run.rows_rejected, run.rows_inserted) == (4, 3, 1, 0)
    assert run.reject_reasons == {Reason.HIGH_BELOW_OPEN_CLOSE: 1}
    assert run.rejects == [
        {"row": 4, "symbol": "MSFT", "ts": "2021-03-15 11:00:00", "reason": Reason.HIGH_BELOW_OPEN_CLOSE}
    ]
    assert "nothing written" in run.message
    assert not Bar.objects.exists() and not Instrument.objects.exists()
    assert ImportRun.objects.get() == run


def test_skip_invalid_writes_the_valid_rows_and_records_the_rejects(write_csv):
    run = bars_import(path=write_csv(*ROWS, BAD), freq="1h", source="handmade", skip_invalid=True)
    assert run.status == ImportRun.Status.PARTIAL
    assert (run.rows_valid, run.rows_rejected, run.rows_inserted) == (3, 1, 3)
    assert run.reject_reasons == {Reason.HIGH_BELOW_OPEN_CLOSE: 1}
    assert Bar.objects.count() == 3
    assert not Bar.objects.filter(ts=datetime(2021, 3, 15, 15, tzinfo=UTC)).exists()


def test_reimporting_the_same_file_adds_nothing(write_csv):
    path = write_csv(*ROWS)
    first = bars_import(path=path, freq="1h", source="handmade")
    again = bars_import(path=path, freq="1h", source="handmade")
    assert (again.status, again.rows_inserted, again.rows_existing) == ("succeeded", 0, 3)
    assert again.file_sha256 == first.file_sha256
    assert Bar.objects.count() == 3 and ImportRun.objects.count() == 2


def test_spring_forward_gap_is_rejected_and_the_rest_lands_in_utc(write_csv):
    run = bars_import(
        path=write_csv("SPY,2021-03-14 02:30:00,10,11,9,10.5,1", "SPY,2021-11-07 10:00:00,10,11,9,10.5,1"),
        freq="1h",
        source="handmade",
        skip_invalid=True,
    )
    assert run.reject_reasons == {Reason.NONEXISTENT_LOCAL_TIME: 1}
    assert list(Bar.objects.values_list("ts", flat=True)) == [datetime(2021, 11, 7, 15, tzinfo=UTC)]


def test_stored_reject_detail_is_capped_but_counts_are_complete(write_csv):
    bad = [f"X{i},2021-03-15 10:00:00,0,1,1,1,1" for i in range(1200)]
    run = bars_import(path=write_csv(*bad), freq="1h", source="handmade")
    assert run.reject_reasons == {Reason.NON_POSITIVE_PRICE: 1200}
    assert len(run.rejects) == 1000 and run.rows_rejected == 1200
    assert [r["row"] for r in run.rejects[:3]] == [1, 2, 3]


def test_unreadable_file_is_recorded_as_rejected(write_csv, tmp_path):
    run = bars_import(path=write_csv("AAPL,2021-03-15", header="symbol,date\n"), freq="1d", source="handmade")
    assert run.status == ImportRun.Status.REJECTED and "missing required column(s) open" in run.message
    missing = bars_import(path=tmp_path / "nope.csv", freq="1d", source="handmade")
    assert missing.status == ImportRun.Status.REJECTED and "no such file" in missing.message
    with pytest.raises(BarFileError, match="unknown time zone"):
        bars_import(path=tmp_path / "nope.csv", freq="1d", source="handmade", tz="Nowhere/Else")


def test_a_failure_mid_write_leaves_no_bar_and_records_a_failed_run(write_csv, monkeypatch):
    def explode(**kwargs):
        assert Bar.objects.count() == 3  # the bars were written in the transaction...
        raise RuntimeError("disk full")

    monkeypatch.setattr("apps.marketdata.services.bars.corporate_actions_insert", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        bars_import(path=write_csv(*ROWS), freq="1h", source="handmade")
    assert not Bar.objects.exists() and not Instrument.objects.exists()  # ...and rolled back
    run = ImportRun.objects.get()
    assert run.status == ImportRun.Status.FAILED and "disk full" in run.message and run.rows_inserted == 0


def test_real_pooksoft_subset_with_splits_and_dividends():
    path = fixture_file("daily", "pooksoft_subset_10sym_2018_2021_raw_adj_div_split.csv.gz")
    run = bars_import(path=path, freq="1d", source="pooksoft")
    assert (run.status, run.rows_inserted) == ("succeeded", 8310)
    splits = CorporateAction.objects.filter(kind="split").order_by("instrument__symbol")
    assert [(s.instrument.symbol, s.ex_date, s.value) for s in splits] == [
        ("AAPL", date(2020, 8, 31), Decimal("4")),
        ("TSLA", date(2020, 8, 31), Decimal("5")),
    ]
    with gzip.open(path, "rt") as fh:
        dividends_in_file = sum(1 for line in fh if line.split(",")[8] not in ("0.0", "dividend_amount"))
    assert CorporateAction.objects.filter(kind="dividend").count() == dividends_in_file == 79
    aapl = Bar.objects.get(instrument__symbol="AAPL", ts=datetime(2018, 1, 2, 21, tzinfo=UTC))
    assert aapl.close == Decimal("172.26")
    again = bars_import(path=path, freq="1d", source="pooksoft")
    assert again.rows_existing == 8310 and CorporateAction.objects.count() == 81


def test_real_kaggle_subset_bad_row_rejects_then_skips(capsys):
    path = fixture_file("daily", "kaggle_5yr_subset_30sym_2013_2018.csv.gz")
    with pytest.raises(CommandError, match="import rejected"):
        call_command("import_bars", str(path), freq="1d", source="kaggle")
    out = capsys.readouterr().out
    assert "1  missing open" in out and "row 5088: BHF 2017-07-26: missing open" in out
    assert not Bar.objects.exists()
    call_command("import_bars", str(path), freq="1d", source="kaggle", skip_invalid=True)
    assert "partial" in capsys.readouterr().out
    assert Bar.objects.count() == 30870
    assert not Bar.objects.filter(instrument__symbol="BHF", ts__date=date(2017, 7, 26)).exists()


def test_command_refuses_bad_arguments(write_csv):
    with pytest.raises(CommandError, match="unknown time zone"):
        call_command("import_bars", str(write_csv(*ROWS)), freq="1h", source="x", tz="Nowhere/Else")


def test_instruments_import_both_formats_never_blanks_a_name(tmp_path):
    constituents = tmp_path / "constituents.csv"
    constituents.write_text(
        "Symbol,Security,GICS Sector,GICS Sub-Industry,Headquarters Location\n"
        'MMM,3M,Industrials,Industrial Conglomerates,"Saint Paul, Minnesota"\n'
        "AOS,A. O. Smith,Industrials,Building Products,Milwaukee\n"
    )
    history = fixture_file("membership", "gics_sector_union_datasets_history.csv")
    Instrument.objects.create(symbol="MMM")
    first = instruments_import_sectors(path=constituents)
    assert (first.status, first.rows_inserted, first.rows_existing) == ("succeeded", 1, 1)
    second = instruments_import_sectors(path=history)
    # The real history file names one row "RVTY (Previously PKI)": too long for a symbol.
    assert second.status == "partial" and second.reject_reasons == {"symbol longer than 16 characters": 1}
    mmm = Instrument.objects.get(symbol="MMM")
    assert (mmm.name, mmm.sector, mmm.sub_industry) == ("3M", "Industrials", "Industrial Conglomerates")
    assert Instrument.objects.get(symbol="A").sector == "Health Care"
    assert Instrument.objects.count() == second.rows_valid


def test_import_instruments_command_rejects_a_file_without_sectors(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(HEADER + "AAPL,2021-03-15,1,2,0.5,1.5,1\n")
    with pytest.raises(CommandError, match="needs a symbol column"):
        call_command("import_instruments", str(path))
    assert ImportRun.objects.get().status == "rejected"


def test_prices_are_stored_rounded_to_six_decimals_exactly(write_csv):
    rows = [
        "A,2021-03-15 10:00:00,41.3780616595,41.3780616595,0.000001,0.0000014,1",
        "B,2021-03-15 10:00:00,123456789.123456,99999999999.999,10000.0001,123456789.000001,123456789012",
    ]
    run = bars_import(path=write_csv(*rows), freq="1h", source="handmade")
    assert run.status == "succeeded", run.message
    a, b = Bar.objects.order_by("instrument__symbol")
    assert (a.open, a.high, a.low, a.close) == (
        Decimal("41.378062"),
        Decimal("41.378062"),
        Decimal("0.000001"),
        Decimal("0.000001"),
    )
    assert (b.open, b.high) == (Decimal("123456789.123456"), Decimal("99999999999.999"))
    assert (b.low, b.close, b.volume) == (Decimal("10000.0001"), Decimal("123456789.000001"), 123456789012)


def test_empty_files_are_rejected_with_a_reason(write_csv, tmp_path):
    run = bars_import(path=write_csv(), freq="1d", source="handmade")
    assert run.status == "rejected" and "no data rows" in run.message
    (tmp_path / "zero.csv").write_bytes(b"")
    run = bars_import(path=tmp_path / "zero.csv", freq="1d", source="handmade")
    assert run.status == "rejected" and "cannot be read as csv" in run.message
