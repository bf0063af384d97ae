"""Point-in-time GICS sectors for the result pages' sector weights, where the data allows.

Instruments carry one sector, their LATEST (e.g. GOOGL "Communication Services", a sector that did
not exist before 2018-09-24), so a 2013-2018 backtest grouped by it puts Alphabet in a sector it
was not in. `fixtures/membership/gics_sector_history_demo.csv` (provenance in fixtures/SOURCES.md)
gives dated sector intervals `[start_date, end_date)` for the demo's names whose sector changed in
a dated GICS restructuring; every other name keeps its instrument sector."""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings

HISTORY_FILE = Path("membership") / "gics_sector_history_demo.csv"


@lru_cache(maxsize=1)
def sector_history() -> dict[str, tuple[tuple[str, str, str], ...]]:
    """{symbol: ((start, end, sector), ...)} with ISO dates, "" = open end; {} without the file."""
    path = Path(settings.BASE_DIR) / "fixtures" / HISTORY_FILE
    if not path.is_file():
        return {}
    out: dict[str, list[tuple[str, str, str]]] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["symbol"], []).append((row["start_date"], row["end_date"], row["sector"]))
    return {symbol: tuple(spans) for symbol, spans in out.items()}


def sector_labels(symbols: list[str], static: list[str], dates: list[str]) -> np.ndarray:
    """(len(dates), len(symbols)) array of each name's sector on each date (ISO YYYY-MM-DD)."""
    labels = np.array([static] * len(dates), dtype=object).reshape(len(dates), len(symbols))
    history = sector_history()
    for j, symbol in enumerate(symbols):
        for start, end, sector in history.get(symbol, ()):
            for i, day in enumerate(dates):
                if (not start or start <= day) and (not end or day < end):
                    labels[i, j] = sector
    return labels
