"""Selectors: point-in-time panels (the as_of filter), OHLCV panels, coverage, import history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from apps.marketdata.models import Bar, ImportRun, Instrument
from apps.marketdata.selectors import (
    bars_panel,
    bars_panel_ohlcv,
    import_runs_recent,
    instrument_coverage,
    instruments_with_coverage,
)
from apps.marketdata.services import bars_import

pytestmark = pytest.mark.django_db

START, END = datetime(2021, 3, 1, tzinfo=UTC), datetime(2021, 3, 31, tzinfo=UTC)
ROWS = [
    "AAPL,2021-03-15 10:00:00,121,122.25,120,122,2000",
    "AAPL,2021-03-15 11:00:00,122,123,121,122.5,2100",
    "MSFT,2021-03-15 11:00:00,230,231,229,230.5,3000",
]


@pytest.fixture
def bars(write_csv):
    run = bars_import(path=write_csv(*ROWS), freq="1h", source="handmade")
    assert run.status == "succeeded", run.message
    return run


def test_panel_is_time_by_symbol_in_the_asked_order(bars):
    panel = bars_panel(symbols=["MSFT", "AAPL", "NONE"], freq="1h", start=START, end=END)
    assert list(panel.columns) == ["MSFT", "AAPL", "NONE"]
    assert [t.isoformat() for t in panel.index] == ["2021-03-15T14:00:00+00:00", "2021-03-15T15:00:00+00:00"]
    assert str(panel.index.tz) == "UTC" and panel.dtypes.eq("float64").all()
    assert np.isnan(panel.loc[panel.index[0], "MSFT"]) and panel["NONE"].isna().all()
    assert panel["AAPL"].tolist() == [122.0, 122.5]


def test_as_of_uses_only_bars_known_by_then(bars):
    # A bar that became known late (e.g. a vendor correction published the next day).
    late = Bar.objects.get(instrument__symbol="MSFT")
    late.known_at = late.ts + timedelta(days=1)
    late.save()
    at_close = datetime(2021, 3, 15, 15, tzinfo=UTC)
    before = bars_panel(symbols=["AAPL", "MSFT"], freq="1h", start=START, end=END, as_of=at_close)
    assert before["MSFT"].isna().all() and before["AAPL"].tolist() == [122.0, 122.5]
    early = bars_panel(
        symbols=["AAPL", "MSFT"], freq="1h", start=START, end=END, as_of=at_close - timedelta(hours=1)
    )
    assert early["AAPL"].tolist() == [122.0] and early["MSFT"].isna().all()
    later = bars_panel(symbols=["AAPL", "MSFT"], freq="1h", start=START, end=END, as_of=late.known_at)
    assert later["MSFT"].tolist()[-1] == 230.5


def test_ohlcv_panels_share_one_index(bars):
    panels = bars_panel_ohlcv(symbols=["AAPL", "MSFT"], freq="1h", start=START, end=END)
    assert set(panels) == {"open", "high", "low", "close", "volume"}
    assert all(p.index.equals(panels["close"].index) for p in panels.values())
    assert panels["high"]["AAPL"].tolist() == [122.25, 123.0]
    assert panels["volume"]["MSFT"].tolist()[-1] == 3000.0
    with pytest.raises(ValueError, match="unknown bar field 'vwap'"):
        bars_panel(symbols=["AAPL"], freq="1h", start=START, end=END, field="vwap")


def test_frequency_and_range_filters(bars):
    assert bars_panel(symbols=["AAPL"], freq="1d", start=START, end=END).empty
    cut = bars_panel(symbols=["AAPL"], freq="1h", start=START, end=datetime(2021, 3, 15, 14, tzinfo=UTC))
    assert len(cut) == 1


def test_coverage_per_instrument_frequency_and_source(bars, write_csv):
    bars_import(
        path=write_csv("AAPL,2021-03-16,1,2,0.5,1.5,10", name="d.csv"), freq="1d", source="daily-vendor"
    )
    aapl = Instrument.objects.get(symbol="AAPL")
    rows = {(r["frequency"], r["source"]): r for r in instrument_coverage(instrument_ids=[aapl.pk])}
    assert set(rows) == {("1h", "handmade"), ("1d", "daily-vendor")}
    assert rows["1h", "handmade"]["bars"] == 2
    assert rows["1h", "handmade"]["first_ts"] == datetime(2021, 3, 15, 14, tzinfo=UTC)
    assert rows["1h", "handmade"]["last_ts"] == datetime(2021, 3, 15, 15, tzinfo=UTC)
    assert rows["1d", "daily-vendor"]["first_ts"] == datetime(2021, 3, 16, 20, tzinfo=UTC)
    everything = instrument_coverage()
    assert [(r["symbol"], r["frequency"], r["bars"]) for r in everything] == [
        ("AAPL", "1d", 1),
        ("AAPL", "1h", 2),
        ("MSFT", "1h", 1),
    ]


def test_instrument_search_and_recent_runs(bars, write_csv):
    Instrument.objects.filter(symbol="MSFT").update(name="Microsoft", sector="Information Technology")
    assert [i.symbol for i in instruments_with_coverage(search="micro")] == ["MSFT"]
    assert [i.symbol for i in instruments_with_coverage(sector="Information Technology")] == ["MSFT"]
    assert [i.symbol for i in instruments_with_coverage()] == ["AAPL", "MSFT"]
    rejected = bars_import(
        path=write_csv("X,2021-03-15 10:30:00,1,1,1,1,1", name="bad.csv"), freq="1h", source="x"
    )
    assert list(import_runs_recent()) == [rejected, bars]
    assert list(import_runs_recent(kind="instruments")) == []
    assert ImportRun.objects.count() == 2
