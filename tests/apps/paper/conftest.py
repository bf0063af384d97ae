"""Real hourly bars (the Nasdaq-100 fixture of Oct-Nov 2025) imported through the bar import, and
a venue account that fills like the default backtest."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from apps.marketdata.services import bars_import
from apps.paper.services import venue_account_create
from workers.engine.backtest import BacktestConfig
from workers.engine.market import hourly_stamp_utc

FIXTURE = (
    Path(__file__).resolve().parents[3] / "fixtures" / "hourly" / "aitrader_nasdaq100_60min_2025-10_11.csv.gz"
)
SYMBOLS = ("AAPL", "MSFT", "NVDA")


def fixture_rows(symbols=SYMBOLS, days: int = 5) -> pd.DataFrame:
    """The fixture's rows of `symbols` on its first `days` sessions, as written in the file."""
    frame = pd.read_csv(FIXTURE, dtype=str)
    frame = frame[frame["symbol"].isin(symbols)]
    dates = sorted(frame["timestamp"].str[:10].unique())[:days]
    return frame[frame["timestamp"].str[:10].isin(dates)].reset_index(drop=True)


def utc(local: str) -> pd.Timestamp:
    """A New York wall-clock time as UTC."""
    return hourly_stamp_utc(pd.Series([local]))[0]


@pytest.fixture
def hourly_bars(tmp_path) -> pd.DataFrame:
    rows = fixture_rows()
    path = tmp_path / "bars.csv"
    rows.to_csv(path, index=False)
    run = bars_import(path=path, freq="1h", source="test-nasdaq")
    assert run.status == "succeeded", run.message
    rows["ts"] = hourly_stamp_utc(rows["timestamp"])
    return rows


@pytest.fixture
def venue(hourly_bars):
    return venue_account_create(
        name="paper-1", cash=Decimal("1000000"), backtest=BacktestConfig(integer_shares=True, governor=None)
    )
