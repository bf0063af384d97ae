"""The exchange calendar (XNYS via exchange-calendars): sessions, holidays, 13:00 early closes and
the bar ends of each session, so the live cycle fires at real bar closes and day orders expire at
the real close. Framework-free; the time zone and the frequencies come from `market.py`.

Bar ends follow the desk's stamping convention (`market.py`): hourly bars are clock hours stamped
at their END, the first one covering the 09:30-10:00 half hour, so a regular session has the 7 ends
10:00 ... 16:00 and a 13:00 early close has 4 (10:00 ... 13:00). exchange-calendars builds them:
`trading_index(period="1h", align="-1h", force_close=True)` anchors each session's first interval
on the clock hour before the open (09:00-10:00) and ends the last one at the close. A daily bar is
stamped at 16:00 New York on its session date (`market.daily_stamp_utc`), early closes included,
because that is how imported daily bars are stamped.

All functions take and return tz-aware UTC `pd.Timestamp`s (naive input is read as UTC).
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import exchange_calendars as xcals
import pandas as pd

from .market import MARKET_TZ, Frequency, daily_stamp_utc

EXCHANGE = "XNYS"
# The calendar's first session: before any bar the desk stores (SPY daily data starts in 2004).
# Its last session is exchange-calendars' default, one year after today.
CALENDAR_START = "2000-01-03"
_HOUR = pd.Timedelta(hours=1)
# How far `next_bar_close` looks ahead: more than the longest market closure since 2000 (the four
# days after 9/11) plus a weekend.
_LOOKAHEAD = pd.Timedelta(days=14)


class CalendarError(ValueError):
    """A time outside the calendar's range, or an unknown frequency, named."""


@cache
def exchange_calendar() -> xcals.ExchangeCalendar:
    calendar = xcals.get_calendar(EXCHANGE, start=CALENDAR_START)
    if calendar.tz is not None and str(calendar.tz) != MARKET_TZ:
        raise CalendarError(f"{EXCHANGE} is in {calendar.tz}, the desk's market time zone is {MARKET_TZ}")
    return calendar


def _utc(at: dt.datetime | pd.Timestamp | str) -> pd.Timestamp:
    ts = pd.Timestamp(at)
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")


def _sessions(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    cal = exchange_calendar()
    first, last = cal.first_session, cal.last_session
    lo = max(start.tz_convert(MARKET_TZ).tz_localize(None).normalize(), first)
    hi = min(end.tz_convert(MARKET_TZ).tz_localize(None).normalize(), last)
    if lo > hi:
        raise CalendarError(
            f"{start} .. {end} is outside the {EXCHANGE} calendar ({first.date()} .. {last.date()})"
        )
    return cal.sessions_in_range(lo, hi)


def bar_ends(
    start: dt.datetime | pd.Timestamp | str,
    end: dt.datetime | pd.Timestamp | str,
    freq: Frequency | str = Frequency.HOUR,
) -> pd.DatetimeIndex:
    """UTC bar ends in [start, end] (inclusive) at `freq`, holidays skipped, early closes honoured."""
    lo, hi = _utc(start), _utc(end)
    freq = Frequency(freq)
    sessions = _sessions(lo, hi)
    if len(sessions) == 0:
        return pd.DatetimeIndex([], tz="UTC")
    if freq is Frequency.DAY:
        ends = daily_stamp_utc(sessions)
    else:
        index = exchange_calendar().trading_index(
            sessions[0], sessions[-1], "1h", intervals=True, closed="left", force_close=True, align="-1h"
        )
        ends = pd.DatetimeIndex(index.right)
    ends = ends.tz_convert("UTC")
    return ends[(ends >= lo) & (ends <= hi)]


def session_bar_ends(session: dt.date | str, freq: Frequency | str = Frequency.HOUR) -> pd.DatetimeIndex:
    """The bar ends of one session date (empty when the date is not a session)."""
    day = pd.Timestamp(session).normalize()
    if not exchange_calendar().is_session(day):
        return pd.DatetimeIndex([], tz="UTC")
    start = day.tz_localize(MARKET_TZ).tz_convert("UTC")
    return bar_ends(start, start + pd.Timedelta(days=1) - pd.Timedelta(seconds=1), freq)


def next_bar_close(
    after: dt.datetime | pd.Timestamp | str, freq: Frequency | str = Frequency.HOUR
) -> pd.Timestamp:
    """The first bar end strictly after `after`."""
    at = _utc(after)
    ends = bar_ends(at, at + _LOOKAHEAD, freq)
    later = ends[ends > at]
    if len(later) == 0:
        raise CalendarError(f"no {Frequency(freq).value} bar close within {_LOOKAHEAD} after {at}")
    return later[0]


@cache
def _session_closes() -> pd.DatetimeIndex:
    return pd.DatetimeIndex(exchange_calendar().closes).tz_convert("UTC")


def next_session_close(after: dt.datetime | pd.Timestamp | str) -> pd.Timestamp:
    """The close (13:00 on early-close days) of the first session closing strictly after `after`:
    when a day order submitted at `after` expires. A binary search over the cached closes: the
    calendar's own `next_close` takes ~2 ms a call, paid by every paper order submission."""
    closes = _session_closes()
    k = closes.searchsorted(_utc(after), side="right")
    if k == len(closes):
        raise CalendarError(f"no {EXCHANGE} session closes after {after} (calendar ends {closes[-1]})")
    return closes[k]


def is_market_open(at: dt.datetime | pd.Timestamp | str) -> bool:
    """True during a regular session (open inclusive, close exclusive)."""
    return bool(exchange_calendar().is_open_on_minute(_utc(at).floor("min")))


def is_session(day: dt.date | str) -> bool:
    return bool(exchange_calendar().is_session(pd.Timestamp(day).normalize()))
