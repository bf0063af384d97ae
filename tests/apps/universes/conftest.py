"""Shared helpers for the universe tests: the real fixture files shipped in fixtures/ and bars
built from real fixture rows (so coverage tests do not depend on the bar importer)."""

from __future__ import annotations

import csv
import gzip
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apps.marketdata.models import Bar, Instrument
from apps.universes.services import membership_import

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
MEMBERSHIP = FIXTURES / "membership"
FJA_INTERVALS = MEMBERSHIP / "fja05680_sp500_ticker_start_end.csv"
FJA_CHANGES = MEMBERSHIP / "fja05680_sp500_changes_since_2019.csv"
INDEX_CONSTITUTION = MEMBERSHIP / "index_constitution_sp500_history.csv"
POOKSOFT = FIXTURES / "daily" / "pooksoft_subset_10sym_2018_2021_raw_adj_div_split.csv.gz"
NASDAQ_HOURLY = FIXTURES / "hourly" / "aitrader_nasdaq100_60min_2025-10_11.csv.gz"
NY = ZoneInfo("America/New_York")


@pytest.fixture
def sp500(db):
    run = membership_import(universe_name="sp500", path=FJA_INTERVALS, changes_path=FJA_CHANGES)
    assert run.status == "succeeded", run.message
    return run


def bars_from_fixture(path: Path, *, freq: str, days: set[date], symbols: set[str] | None = None) -> int:
    """Create Bars with the ORM from the real rows of a fixture file on the given NY dates."""
    made = 0
    now = timezone.now()
    with gzip.open(path, "rt", newline="") as fh:
        for rec in csv.DictReader(fh):
            stamp = rec.get("timestamp") or rec["date"]
            local = datetime.fromisoformat(stamp)
            if freq == "1d":
                local = datetime.combine(local.date(), time(16, 0))
            if local.date() not in days or (symbols and rec["symbol"] not in symbols):
                continue
            inst, _ = Instrument.objects.get_or_create(symbol=rec["symbol"])
            ts = local.replace(tzinfo=NY)
            Bar.objects.create(
                instrument=inst,
                frequency=freq,
                ts=ts,
                open=Decimal(rec["open"]),
                high=Decimal(rec["high"]),
                low=Decimal(rec["low"]),
                close=Decimal(rec["close"]),
                volume=int(float(rec["volume"])),
                known_at=ts,
                source="test-fixture",
                ingested_at=now,
            )
            made += 1
    return made
