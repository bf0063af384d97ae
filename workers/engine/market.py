"""Facts about the market every reader of bars shares, defined once: the exchange's time zone, the
bar frequencies and their sessions, how bars are stamped, and point-in-time membership.

Conventions (DEVELOPERS.md): bars are stored in UTC, stamped at their END, and known from then;
a daily bar is stamped at the 16:00 New York close of its date; universe membership is
`[start_date, end_date)` on New York calendar dates. The apps (market data import, universes,
the panel selector) and the engine read these from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

import numpy as np
import pandas as pd

# The exchange's wall-clock zone: every market date and session time is in it.
MARKET_TZ = "America/New_York"
DAILY_CLOSE_TIME = pd.Timedelta(hours=16)
TRADING_DAYS_PER_YEAR = 252
# The fields of a bar, in the order files, the database and the Panel list them.
PRICE_FIELDS = ("open", "high", "low", "close")
OHLCV = (*PRICE_FIELDS, "volume")


class Frequency(StrEnum):
    """Bar frequencies the desk stores, strategies trade on and the engine computes with."""

    HOUR = "1h"
    DAY = "1d"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def bars_per_day(self) -> int:
        """Regular session 09:30-16:00 ET stamped at bar end: 10:00 ... 16:00 = 7 hourly bars."""
        return _BARS_PER_DAY[self]


_LABELS = {Frequency.HOUR: "hourly", Frequency.DAY: "daily"}
_BARS_PER_DAY = {Frequency.HOUR: 7, Frequency.DAY: 1}
FREQUENCIES: tuple[str, ...] = tuple(f.value for f in Frequency)


def daily_stamp_utc(dates: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    """A daily bar is stamped (and known) at the 16:00 New York close of its date, in UTC."""
    local = pd.DatetimeIndex(pd.to_datetime(dates)).normalize() + DAILY_CLOSE_TIME
    return local.tz_localize(MARKET_TZ).tz_convert("UTC")


def hourly_stamp_utc(stamps: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Hourly bar-end stamps in New York wall-clock time -> UTC (DST-aware)."""
    return (
        pd.DatetimeIndex(pd.to_datetime(stamps))
        .tz_localize(MARKET_TZ, ambiguous="raise", nonexistent="raise")
        .tz_convert("UTC")
    )


def market_dates(index_utc: pd.DatetimeIndex) -> np.ndarray:
    """datetime64[ns] New York calendar dates (midnight) of UTC bar stamps (naive = UTC)."""
    idx = pd.DatetimeIndex(index_utc)
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    return idx.tz_convert(MARKET_TZ).tz_localize(None).normalize().values


def membership_mask(
    index_utc: pd.DatetimeIndex, symbols: list[str], intervals: Iterable[tuple[str, object, object]]
) -> np.ndarray:
    """(T, N) bool from (symbol, start, end) intervals, evaluated on each bar's New York date:
    a member from `start` inclusive to `end` exclusive; a blank end (None or "") = still a member.
    Dates may be strings, `datetime.date` or timestamps (files in bench/tests, the database in the app)."""
    dates = market_dates(index_utc)
    col = {s: i for i, s in enumerate(symbols)}
    mask = np.zeros((len(dates), len(symbols)), dtype=bool)
    for symbol, start, end in intervals:
        i = col.get(symbol)
        if i is None:
            continue
        sel = dates >= np.datetime64(pd.Timestamp(start))
        if end is not None and end != "":
            sel &= dates < np.datetime64(pd.Timestamp(end))
        mask[sel, i] = True
    return mask
