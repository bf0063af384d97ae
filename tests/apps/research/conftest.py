"""A tiny real dataset for research tests: 6 symbols of the 30-symbol daily fixture (2016-2017)
imported through the real bar importer, a universe whose membership changes mid-way (GE leaves on
2017-06-01), GICS sectors, and the desk personas."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.accounts.roles import ADMIN, APPROVER, QUANT, RISK_OFFICER, TRADER, VIEWER
from apps.accounts.services import roles_sync
from apps.marketdata.models import Instrument
from apps.marketdata.services import bars_import
from apps.strategies.services.strategies import strategy_create
from apps.universes.models import Membership, Universe

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
DAILY = FIXTURES / "daily" / "kaggle_5yr_subset_30sym_2013_2018.csv.gz"
SYMBOLS = {
    "AAPL": "Information Technology",
    "MSFT": "Information Technology",
    "JPM": "Financials",
    "XOM": "Energy",
    "KO": "Consumer Staples",
    "GE": "Industrials",
}
START, END = "2016-01-01", "2018-01-01"
PERSONAS = {
    "quinn": QUANT,
    "bob": APPROVER,
    "alice": TRADER,
    "victor": VIEWER,
    "rita": RISK_OFFICER,
    "ada": ADMIN,
}


def write_subset(path: Path, *, symbols=SYMBOLS, start: str = START, end: str = END) -> Path:
    with gzip.open(DAILY, "rt", newline="") as src, path.open("w", newline="") as dst:
        reader = csv.reader(src)
        writer = csv.writer(dst)
        writer.writerow(next(reader))
        for row in reader:
            if row[0] in symbols and start <= row[1] < end:
                writer.writerow(row)
    return path


@pytest.fixture
def people(db):
    roles_sync()
    out = {}
    for name, role in PERSONAS.items():
        user = get_user_model().objects.create_user(name, password=f"{name}-pw")
        user.groups.add(Group.objects.get(name=role))
        out[name] = user
    return out


@pytest.fixture
def tiny_data(db, tmp_path):
    run = bars_import(path=write_subset(tmp_path / "tiny.csv"), freq="1d", source="kaggle-subset")
    assert run.status == "succeeded", run.message
    for symbol, sector in SYMBOLS.items():
        Instrument.objects.filter(symbol=symbol).update(sector=sector)
    universe = Universe.objects.create(name="tiny", description="six names of the daily fixture")
    for symbol in SYMBOLS:
        end = dt.date(2017, 6, 1) if symbol == "GE" else None
        Membership.objects.create(
            universe=universe, symbol=symbol, start_date=dt.date(2010, 1, 1), end_date=end
        )
    return universe


def strategy_config(kind: str = "ma_crossover", **extra) -> dict:
    base = {
        "kind": kind,
        "universe": "tiny",
        "frequency": "1d",
        "research": {"start": START, "end": END},
        "optimizer": {"allocator": "topk", "top_k": 3, "max_weight": 0.34, "sector_cap": 0.7},
        "walk_forward": {"train_bars": 250, "retrain_every": 125, "mode": "expanding"},
        "model": {"fast": 10, "slow": 50} if kind == "ma_crossover" else {},
    }
    base.update(extra)
    return base


@pytest.fixture
def strategy(people, tiny_data):
    return strategy_create(owner=people["quinn"], name="tiny-ma", config=strategy_config())


POOKSOFT = FIXTURES / "daily" / "pooksoft_subset_10sym_2018_2021_raw_adj_div_split.csv.gz"
SPY_HOURLY = FIXTURES / "hourly" / "spy_60min_2019_2021.csv.gz"
TEN = ("AAPL", "AMZN", "GOOGL", "JPM", "KO", "MSFT", "NFLX", "NVDA", "TSLA", "XOM")


def _filter_rows(src_path: Path, dst: Path, *, start: str, end: str) -> Path:
    with gzip.open(src_path, "rt", newline="") as src, dst.open("w", newline="") as out:
        reader, writer = csv.reader(src), csv.writer(out)
        writer.writerow(next(reader))
        for row in reader:
            if start <= row[1][:10] < end:
                writer.writerow(row)
    return dst


@pytest.fixture
def ml_data(db, tmp_path):
    """Ten large caps daily 2019-2020 (pooksoft subset) with SPY hourly as the benchmark, in a
    universe 'ten' where every name is a member throughout."""
    for path, freq, source in (
        (
            _filter_rows(POOKSOFT, tmp_path / "ten.csv", start="2019-01-01", end="2021-01-01"),
            "1d",
            "pooksoft",
        ),
        (
            _filter_rows(SPY_HOURLY, tmp_path / "spy.csv", start="2019-01-01", end="2021-01-01"),
            "1h",
            "spy-60min",
        ),
    ):
        run = bars_import(path=path, freq=freq, source=source)
        assert run.status in ("succeeded", "partial"), run.message
    universe = Universe.objects.create(name="ten", description="ten large caps")
    for symbol in TEN:
        Membership.objects.create(universe=universe, symbol=symbol, start_date=dt.date(2010, 1, 1))
    return universe


@pytest.fixture
def ridge_strategy(people, ml_data):
    cfg = strategy_config("ridge", universe="ten", features=["ret_5", "ret_20", "dist_ma_20", "rsi_14"])
    cfg["research"] = {"start": "2019-01-01", "end": "2021-01-01"}
    cfg["optimizer"] = {"allocator": "topk", "top_k": 4, "max_weight": 0.25, "sector_cap": 0.7}
    return strategy_create(owner=people["quinn"], name="ten-ridge", config=cfg)
