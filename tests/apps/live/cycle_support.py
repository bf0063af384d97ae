"""A paper account trading a real rule strategy on the real hourly fixture (10 Nasdaq-100 names,
Oct 2025): bars imported through the bar import (known at their end), S&P 500 membership rows
for the names, a momentum rule with the top-k allocator in stage paper, and the paper account on
the simulated venue (`paper_account_open`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd

from apps.live.services.accounts import paper_account_open
from apps.marketdata.services import bars_import
from apps.strategies.models import ModelVersion, Stage
from apps.strategies.services import model_version_create, strategy_create
from apps.universes.models import Membership, Universe
from workers.engine.market import hourly_stamp_utc

FIXTURE = (
    Path(__file__).resolve().parents[3] / "fixtures" / "hourly" / "aitrader_nasdaq100_60min_2025-10_11.csv.gz"
)
SYMBOLS = (
    "AAPL", "ADBE", "AMD", "AMGN", "AMZN", "AVGO", "BKNG", "CMCSA", "COST", "CSCO",
    "GOOGL", "INTC", "META", "MSFT", "NFLX", "NVDA", "PEP", "QCOM", "TSLA", "TXN",
)  # fmt: skip

CONFIG = {
    "kind": "momentum",
    "universe": "sp500",
    "frequency": "1h",
    "research": {"start": "2025-10-01", "end": "2025-11-11"},
    "model": {"lookback": 6, "skip": 1},
    # Ten names at 0.1 x 98% of equity each: within the desk's default limits (10% per name, 250k per order).
    "optimizer": {"allocator": "topk", "top_k": 10, "max_weight": 0.1},
    "initial_cash": 1_000_000.0,
}


def import_fixture(tmp_path: Path, *, symbols=SYMBOLS, days: int | None = None) -> list[pd.Timestamp]:
    """Import the fixture's bars of `symbols` (first `days` sessions); returns the bar ends (UTC)."""
    frame = pd.read_csv(FIXTURE, dtype=str)
    frame = frame[frame["symbol"].isin(symbols)]
    if days is not None:
        dates = sorted(frame["timestamp"].str[:10].unique())[:days]
        frame = frame[frame["timestamp"].str[:10].isin(dates)]
    path = tmp_path / "hourly.csv"
    frame.to_csv(path, index=False)
    run = bars_import(path=path, freq="1h", source="test-hourly")
    assert run.status == "succeeded", run.message
    return sorted(set(hourly_stamp_utc(frame["timestamp"])))


def paper_desk(people, *, symbols=SYMBOLS, config=None, name: str = "paper-desk", cash="1000000"):
    """(account, version): the strategy in stage paper and its paper account."""
    universe, _ = Universe.objects.get_or_create(name="sp500")
    for symbol in symbols:
        Membership.objects.get_or_create(
            universe=universe, symbol=symbol, start_date=dt.date(2000, 1, 3), defaults={"source": "test"}
        )
    strategy = strategy_create(
        owner=people["quinn"], name=f"{name}-momentum", config=config or CONFIG, description="cycle tests"
    )
    version = model_version_create(
        strategy=strategy,
        created_by=people["quinn"],
        artifact_bytes=None,
        artifact_name="",
        training_window=None,
        data_hash="d" * 64,
        metrics={},
        config=strategy.config,
    )
    ModelVersion.objects.filter(pk=version.pk).update(stage=Stage.PAPER)
    version.refresh_from_db()
    account = paper_account_open(by=people["ada"], name=name, starting_cash=Decimal(cash), version=version)
    return account, version
