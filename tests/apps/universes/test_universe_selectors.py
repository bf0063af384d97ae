"""Point-in-time members ([start, end) pinned on a real row), clipped history, and coverage that
reports members without bars as missing instead of dropping them."""

from datetime import date

import pytest

from apps.marketdata.models import Instrument
from apps.universes.selectors import (
    MemberInterval,
    universe_coverage,
    universe_coverage_series,
    universe_members,
    universe_members_history,
)

from .conftest import NASDAQ_HOURLY, POOKSOFT, bars_from_fixture

pytestmark = pytest.mark.django_db


def test_boundary_member_on_start_date_not_on_end_date(sp500):
    # Real row: JNPR,2006-06-02,2025-07-09 and DDOG,2025-07-09, (DDOG replaced JNPR).
    assert "JNPR" not in universe_members("sp500", date(2006, 6, 1))
    assert "JNPR" in universe_members("sp500", date(2006, 6, 2))
    assert "JNPR" in universe_members("sp500", date(2025, 7, 8))
    assert "JNPR" not in universe_members("sp500", date(2025, 7, 9))
    assert "DDOG" not in universe_members("sp500", date(2025, 7, 8))
    assert "DDOG" in universe_members("sp500", date(2025, 7, 9))


def test_members_history_is_clipped_to_the_range(sp500):
    hist = universe_members_history("sp500", date(2025, 7, 1), date(2025, 8, 1))
    by_symbol = {h.symbol: h for h in hist}
    assert by_symbol["JNPR"] == MemberInterval("JNPR", date(2025, 7, 1), date(2025, 7, 9))
    assert by_symbol["DDOG"] == MemberInterval("DDOG", date(2025, 7, 9), date(2025, 8, 1))
    assert by_symbol["AAPL"] == MemberInterval("AAPL", date(2025, 7, 1), date(2025, 8, 1))
    assert "FISV" not in by_symbol  # between its two intervals
    with pytest.raises(ValueError, match="must be after start"):
        universe_members_history("sp500", date(2025, 8, 1), date(2025, 8, 1))


def test_daily_coverage_lists_members_without_bars_as_missing(sp500):
    day = date(2020, 8, 31)  # AAPL and TSLA split day; TSLA joined the index only on 2020-12-21.
    assert bars_from_fixture(POOKSOFT, freq="1d", days={day}) == 10
    Instrument.objects.filter(symbol="AAPL").update(name="Apple Inc.", sector="Information Technology")
    cov = universe_coverage(universe="sp500", at=day, freq="1d")
    assert cov.with_bars == ["AAPL", "AMZN", "GOOGL", "JPM", "KO", "MSFT", "NFLX", "NVDA", "XOM"]
    assert "TSLA" not in cov.members  # a bar for a non-member is not coverage
    assert len(cov.members) == len(universe_members("sp500", day))
    assert set(cov.missing) == set(cov.members) - set(cov.with_bars)
    assert cov.counts == {"members": len(cov.members), "with_bars": 9, "missing": len(cov.members) - 9}
    assert "GOOG" in cov.missing  # a member whose class is not in the price set: reported, not dropped
    sectors = {s["sector"]: s for s in cov.sectors()}
    assert sectors["Information Technology"] == {
        "sector": "Information Technology",
        "members": 1,
        "with_bars": 1,
        "missing": 0,
    }
    assert sectors["(unknown)"]["members"] == len(cov.members) - 1
    # The previous date has no bars at all: everyone is missing.
    assert universe_coverage(universe="sp500", at=date(2020, 8, 28), freq="1d").with_bars == []
    # Daily bars do not count as hourly coverage.
    assert universe_coverage(universe="sp500", at=day, freq="1h").with_bars == []


def test_hourly_coverage_any_bar_that_new_york_day(sp500):
    day = date(2025, 10, 15)
    bars_from_fixture(NASDAQ_HOURLY, freq="1h", days={day}, symbols={"AAPL", "MSFT", "QQQ"})
    cov = universe_coverage(universe="sp500", at=day, freq="1h")
    assert cov.with_bars == ["AAPL", "MSFT"]
    assert len(cov.missing) == len(cov.members) - 2


def test_coverage_series_per_session_in_two_queries(sp500, django_assert_max_num_queries):
    days = {date(2020, 8, 28), date(2020, 8, 31), date(2020, 12, 21)}
    bars_from_fixture(POOKSOFT, freq="1d", days=days)
    with django_assert_max_num_queries(3):  # universe lookup by name + memberships + bars
        series = universe_coverage_series(
            universe="sp500", start=date(2020, 8, 1), end=date(2020, 12, 31), freq="1d"
        )
    assert [p.day for p in series] == sorted(days)  # sessions present in the database, no weekends
    for p in series:
        cov = universe_coverage(universe="sp500", at=p.day, freq="1d")
        assert (p.members, p.with_bars, p.missing) == (len(cov.members), len(cov.with_bars), len(cov.missing))
    assert [p.with_bars for p in series] == [9, 9, 10]  # TSLA counts once it is a member
    with pytest.raises(ValueError, match="unknown frequency"):
        universe_coverage_series(universe="sp500", start=date(2020, 8, 1), end=date(2020, 9, 1), freq="5m")
