"""Bar.instrument integrity without a FOREIGN KEY (migration 0003 triggers), the two PostgreSQL
write paths of the bulk import (stored bars compared in bulk, only the new ones written),
and the frequency column's "C" collation (migration 0004). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from apps.marketdata.models import Bar, Instrument
from apps.marketdata.services import bars_import

pytestmark = pytest.mark.django_db

BAR_COLUMNS = "instrument_id, frequency, ts, open, high, low, close, volume, known_at, source, ingested_at"
STAMP = datetime(2021, 3, 15, 20, tzinfo=UTC)


def _insert_bar_sql(cur, instrument_id: int, ts: datetime = STAMP) -> None:
    cur.execute(
        f"INSERT INTO marketdata_bar ({BAR_COLUMNS}) VALUES (%s, '1d', %s, 1, 2, 0.5, 1.5, 100, %s, 'raw', %s)",
        [instrument_id, ts, ts, ts],
    )


def _missing_id() -> int:
    return (Instrument.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1000


def test_raw_insert_of_a_bar_without_its_instrument_fails():
    aapl = Instrument.objects.create(symbol="AAPL")
    with connection.cursor() as cur:
        with pytest.raises(IntegrityError), transaction.atomic():
            _insert_bar_sql(cur, _missing_id())
        # One bad row in a multi-row statement refuses the whole statement.
        with pytest.raises(IntegrityError), transaction.atomic():
            cur.execute(
                f"INSERT INTO marketdata_bar ({BAR_COLUMNS}) VALUES "
                "(%s, '1d', %s, 1, 2, 0.5, 1.5, 100, %s, 'raw', %s), "
                "(%s, '1d', %s, 1, 2, 0.5, 1.5, 100, %s, 'raw', %s)",
                [aapl.pk, STAMP, STAMP, STAMP, _missing_id(), STAMP, STAMP, STAMP],
            )
        assert not Bar.objects.exists()
        _insert_bar_sql(cur, aapl.pk)  # the check does not refuse a good row
    assert Bar.objects.get().instrument == aapl


def test_raw_update_of_a_bar_to_a_missing_instrument_fails():
    aapl = Instrument.objects.create(symbol="AAPL")
    with connection.cursor() as cur:
        _insert_bar_sql(cur, aapl.pk)
        with pytest.raises(IntegrityError), transaction.atomic():
            cur.execute("UPDATE marketdata_bar SET instrument_id = %s", [_missing_id()])
        cur.execute("UPDATE marketdata_bar SET volume = 7")  # other columns update freely
    assert Bar.objects.get().instrument_id == aapl.pk


def test_raw_delete_or_renumbering_of_a_referenced_instrument_fails():
    aapl = Instrument.objects.create(symbol="AAPL")
    spare = Instrument.objects.create(symbol="SPARE")
    with connection.cursor() as cur:
        _insert_bar_sql(cur, aapl.pk)
        if connection.vendor == "postgresql":  # SQLite: ORM PROTECT only (see migration 0003)
            with pytest.raises(IntegrityError), transaction.atomic():
                cur.execute("DELETE FROM marketdata_instrument WHERE id = %s", [aapl.pk])
        with pytest.raises(IntegrityError), transaction.atomic():
            cur.execute("UPDATE marketdata_instrument SET id = %s WHERE id = %s", [_missing_id(), aapl.pk])
        cur.execute("UPDATE marketdata_instrument SET sector = 'Tech' WHERE id = %s", [aapl.pk])
        cur.execute("DELETE FROM marketdata_instrument WHERE id = %s", [spare.pk])  # unreferenced: fine
    assert set(Instrument.objects.values_list("symbol", flat=True)) == {"AAPL"}
    with pytest.raises(ProtectedError):  # the ORM's PROTECT still applies
        aapl.delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the C collation is PostgreSQL-only")
def test_frequency_compares_bytewise_on_postgresql():
    with connection.cursor() as cur:
        cur.execute(
            "SELECT collation_name FROM information_schema.columns "
            "WHERE table_name = 'marketdata_bar' AND column_name = 'frequency'"
        )
        assert cur.fetchone()[0] == "C"


def _daily(symbol: str, days: range) -> list[str]:
    return [f"{symbol},2021-03-{d:02d},10,11,9,10.5,100" for d in days]


def test_fresh_range_goes_straight_in_and_a_reimport_adds_nothing(write_csv):
    first, timings = write_csv(*_daily("AAPL", range(15, 20)), name="first.csv"), {}
    run = bars_import(path=first, freq="1d", source="handmade", timings=timings)
    assert (run.rows_inserted, run.rows_existing) == (5, 0)
    timings_again: dict[str, float] = {}
    again = bars_import(path=first, freq="1d", source="handmade", timings=timings_again)
    assert (again.rows_inserted, again.rows_existing) == (0, 5)
    assert Bar.objects.count() == 5
    assert "compare_stored" in timings and "compare_stored" in timings_again


def test_partial_overlap_adds_only_the_new_bars(write_csv):
    bars_import(path=write_csv(*_daily("AAPL", range(15, 18)), name="a.csv"), freq="1d", source="handmade")
    # AAPL 16-19 overlaps 16-17; MSFT is new.
    overlap, timings = write_csv(*_daily("AAPL", range(16, 20)), *_daily("MSFT", range(15, 17))), {}
    run = bars_import(path=overlap, freq="1d", source="handmade", timings=timings)
    assert (run.rows_inserted, run.rows_existing) == (4, 2)
    days = sorted(Bar.objects.filter(instrument__symbol="AAPL").values_list("ts__day", flat=True))
    assert days == [15, 16, 17, 18, 19] and Bar.objects.filter(instrument__symbol="MSFT").count() == 2
    assert Bar.objects.filter(import_run=run).count() == 4


def test_stored_bars_outside_the_file_range_or_of_another_frequency_are_not_matched(write_csv):
    bars_import(path=write_csv(*_daily("AAPL", range(1, 6)), name="a.csv"), freq="1d", source="handmade")
    later, timings = write_csv(*_daily("AAPL", range(15, 20)), name="b.csv"), {}
    run = bars_import(path=later, freq="1d", source="handmade", timings=timings)
    assert (run.rows_inserted, run.rows_existing) == (5, 0) and Bar.objects.count() == 10
    # Hourly bars of the same instrument and dates are another frequency: no overlap either.
    hourly = write_csv("AAPL,2021-03-15 10:00:00,10,11,9,10.5,100", name="h.csv")
    assert bars_import(path=hourly, freq="1h", source="handmade", timings=timings).rows_inserted == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks between sessions: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_deleting_an_instrument_waits_for_an_uncommitted_import_then_fails():
    """The insert-side check locks the instruments FOR KEY SHARE, as a foreign key does: a
    concurrent DELETE cannot slip in between the check and the commit of the new bars."""
    aapl = Instrument.objects.create(symbol="AAPL")
    importer = connection.get_new_connection(connection.get_connection_params())
    deleter = connection.get_new_connection(connection.get_connection_params())
    try:
        with importer.cursor() as cur:  # psycopg: a transaction is open until commit
            _insert_bar_sql(cur, aapl.pk)
        with deleter.cursor() as cur:
            cur.execute("SET lock_timeout = '300ms'")
            with pytest.raises(Exception, match="lock timeout"):
                cur.execute("DELETE FROM marketdata_instrument WHERE id = %s", [aapl.pk])
        deleter.rollback()
        importer.commit()
        with deleter.cursor() as cur:
            with pytest.raises(Exception, match="still referenced"):
                cur.execute("DELETE FROM marketdata_instrument WHERE id = %s", [aapl.pk])
        deleter.rollback()
    finally:
        importer.close()
        deleter.close()
    assert Bar.objects.filter(instrument=aapl).count() == 1
