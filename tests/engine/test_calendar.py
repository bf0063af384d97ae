"""The XNYS calendar: hourly bar ends of regular, early-close and holiday sessions, the next bar
close, market open, and the real hourly fixtures' stamps checked against it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workers.engine import calendar
from workers.engine.market import MARKET_TZ, Frequency, hourly_stamp_utc

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "hourly"


def _local(index: pd.DatetimeIndex) -> list[str]:
    return list(index.tz_convert(MARKET_TZ).strftime("%H:%M"))


def test_regular_session_has_the_desks_seven_hourly_bar_ends():
    ends = calendar.session_bar_ends("2025-10-01")
    assert _local(ends) == ["10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"]
    assert len(ends) == Frequency.HOUR.bars_per_day
    assert str(ends.tz) == "UTC"


def test_early_close_ends_at_13():
    assert _local(calendar.session_bar_ends("2019-11-29")) == ["10:00", "11:00", "12:00", "13:00"]
    assert calendar.next_session_close("2019-11-29 15:00Z") == pd.Timestamp("2019-11-29 18:00Z")


def test_holidays_and_weekends_have_no_bars():
    assert len(calendar.session_bar_ends("2019-11-28")) == 0  # Thanksgiving
    assert len(calendar.session_bar_ends("2025-07-04")) == 0
    assert len(calendar.session_bar_ends("2025-10-04")) == 0  # Saturday
    assert not calendar.is_session("2019-11-28")


def test_next_bar_close_skips_nights_holidays_and_weekends():
    # after the early close of Friday 2019-11-29 -> Monday's first bar end, 10:00 New York
    assert calendar.next_bar_close("2019-11-29 18:00Z") == pd.Timestamp("2019-12-02 15:00Z")
    # strictly after: at a bar end, the next one
    assert calendar.next_bar_close("2025-10-01 14:00Z") == pd.Timestamp("2025-10-01 15:00Z")
    # the day before Thanksgiving closes at 16:00: its 16:00 bar, then Friday 10:00
    assert calendar.next_bar_close("2019-11-27 20:30Z") == pd.Timestamp("2019-11-27 21:00Z")
    assert calendar.next_bar_close("2019-11-27 21:00Z") == pd.Timestamp("2019-11-29 15:00Z")
    assert calendar.next_bar_close("2019-11-27 21:00Z", Frequency.DAY) == pd.Timestamp("2019-11-29 21:00Z")


def test_is_market_open():
    assert calendar.is_market_open("2025-10-01 13:30Z")  # 09:30 New York
    assert not calendar.is_market_open("2025-10-01 13:29Z")
    assert not calendar.is_market_open("2025-10-01 20:00Z")  # 16:00: closed
    assert calendar.is_market_open("2019-11-29 17:59Z")
    assert not calendar.is_market_open("2019-11-29 18:00Z")  # early close 13:00
    assert not calendar.is_market_open("2019-11-28 16:00Z")  # holiday


def test_daily_bar_ends_are_the_desks_16_00_stamps():
    ends = calendar.bar_ends("2019-11-25", "2019-11-30", Frequency.DAY)
    assert list(ends.tz_convert(MARKET_TZ).strftime("%m-%d %H:%M")) == [
        "11-25 16:00",
        "11-26 16:00",
        "11-27 16:00",
        "11-29 16:00",
    ]


def test_outside_the_calendar_is_an_error():
    with pytest.raises(calendar.CalendarError, match="outside"):
        calendar.bar_ends("1990-01-01", "1990-02-01")


def _fixture_stamps(name: str) -> pd.DatetimeIndex:
    frame = pd.read_csv(FIXTURES / name, usecols=["timestamp"])
    return hourly_stamp_utc(pd.Series(frame["timestamp"].unique()))


def test_nasdaq_fixture_stamps_are_calendar_bar_ends_without_the_16_00_bar():
    stamps = _fixture_stamps("aitrader_nasdaq100_60min_2025-10_11.csv.gz")
    ends = calendar.bar_ends(stamps.min(), stamps.max())
    assert stamps.isin(ends).all()
    # What the fixture lacks: only the last bar of each session (15:00-16:00): 29 sessions, the
    # last one's 16:00 falling after the fixture's last stamp.
    missing = ends[~ends.isin(stamps)]
    assert set(_local(missing)) == {"16:00"} and len(missing) == 28


def test_spy_fixture_stamps_are_calendar_bar_ends_except_post_close_bars_of_early_closes():
    stamps = _fixture_stamps("spy_60min_2019_2021.csv.gz")
    ends = calendar.bar_ends(stamps.min(), stamps.max())
    off = stamps[~stamps.isin(ends)]
    # Every regular session matches exactly; on the five 13:00 early closes the vendor has bars
    # stamped 15:00 and 16:00 (after the close, ~0 volume) and none at 14:00.
    # The stamps match the grid, but the bars' contents suggest the vendor stamps bar STARTS: the
    # bar stamped 15:00 closes at the official close (its daily returns track the S&P 500 index
    # close-to-close with correlation 0.995 over 2004-2018, the 16:00 bar's 0.969), and on early
    # closes the big bar is 12:00 and 13:00 is thin. Reported to the lead; the import keeps the
    # house convention (bar END) until the fixtures are re-stamped.
    early = ["2019-07-03", "2019-11-29", "2019-12-24", "2020-11-27", "2020-12-24"]
    assert sorted(off.tz_convert(MARKET_TZ).strftime("%Y-%m-%d %H:%M")) == sorted(
        f"{d} {h}" for d in early for h in ("15:00", "16:00")
    )
    assert ends[~ends.isin(stamps)].empty


def test_next_session_close_agrees_with_exchange_calendars():
    cal = calendar.exchange_calendar()
    stamps = pd.date_range("2019-11-25", "2019-12-03", freq="37min", tz="UTC")
    closes = pd.DatetimeIndex(cal.closes).tz_convert("UTC")
    for at in [*stamps, *closes[(closes > stamps[0]) & (closes < stamps[-1])]]:
        assert calendar.next_session_close(at) == cal.next_close(at), at
    # strictly after: at the 13:00 early close of 2019-11-29, the next session's 16:00 close
    assert calendar.next_session_close("2019-11-29 18:00Z") == pd.Timestamp("2019-12-02 21:00Z")
