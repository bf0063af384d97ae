"""Reads for universes: point-in-time members and price coverage.

Membership convention: [start_date, end_date) — a member ON its start date, NOT on its end date.
Coverage never fills or drops anything: a member without a bar is listed as missing, because the
price sets do not cover every historical member (delisted names) and the strategy must see that.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Q
from django.db.models.functions import TruncDate

from apps.marketdata.models import Bar, Frequency, Instrument
from apps.marketdata.selectors import market_tz

from .models import Membership, Universe

DEFAULT_UNIVERSE = "sp500"


def _universe_id(universe: Universe | str | int) -> int:
    if isinstance(universe, Universe):
        return universe.pk
    if isinstance(universe, int):
        return universe
    return Universe.objects.only("pk").get(name=universe).pk


def _active_on(at: date) -> Q:
    return Q(start_date__lte=at) & (Q(end_date__isnull=True) | Q(end_date__gt=at))


def universe_get(name: str) -> Universe | None:
    return Universe.objects.filter(name=name).first()


def universe_list() -> list[Universe]:
    return list(Universe.objects.order_by("name"))


def universe_members(universe: Universe | str | int, at: date) -> list[str]:
    """Symbols that are members on date ``at`` (start_date <= at < end_date), sorted."""
    qs = Membership.objects.filter(_active_on(at), universe_id=_universe_id(universe))
    return sorted(set(qs.values_list("symbol", flat=True)))


@dataclass(frozen=True)
class MemberInterval:
    symbol: str
    start_date: date
    end_date: date  # exclusive, like the stored intervals


def universe_members_history(universe: Universe | str | int, start: date, end: date) -> list[MemberInterval]:
    """Every membership interval intersecting [start, end), clipped to it (end exclusive)."""
    if end <= start:
        raise ValueError(f"end {end} must be after start {start}")
    rows = (
        Membership.objects.filter(universe_id=_universe_id(universe), start_date__lt=end)
        .filter(Q(end_date__isnull=True) | Q(end_date__gt=start))
        .order_by("symbol", "start_date")
        .values_list("symbol", "start_date", "end_date")
    )
    return [MemberInterval(s, max(a, start), min(b or end, end)) for s, a, b in rows]


def market_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[00:00, next 00:00) of ``day`` in the market time zone, as aware datetimes. Bars are stamped
    in UTC at bar end; a daily bar (16:00 New York close) and that day's hourly bars fall inside."""
    tz = market_tz()
    lo = datetime.combine(day, time.min, tzinfo=tz)
    hi = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return lo, hi


def _check_freq(freq: str) -> None:
    if freq not in Frequency.values:
        raise ValueError(f"unknown frequency {freq!r}; expected one of {', '.join(Frequency.values)}")


@dataclass
class Coverage:
    at: date
    freq: str
    members: list[str]
    with_bars: list[str]
    missing: list[str]
    instruments: dict[str, Instrument] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return {"members": len(self.members), "with_bars": len(self.with_bars), "missing": len(self.missing)}

    def sectors(self) -> list[dict]:
        """Per GICS sector (unknown when the symbol has no Instrument/sector): members, with bars."""
        have = set(self.with_bars)
        acc: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for sym in self.members:
            inst = self.instruments.get(sym)
            key = (inst.sector if inst else "") or "(unknown)"
            acc[key][0] += 1
            acc[key][1] += sym in have
        rows = [{"sector": k, "members": m, "with_bars": b, "missing": m - b} for k, (m, b) in acc.items()]
        return sorted(rows, key=lambda r: (-r["members"], r["sector"]))


def universe_coverage(*, universe: Universe | str | int, at: date, freq: str) -> Coverage:
    """Members on ``at`` and which of them have a bar of ``freq`` on that market date (1d: the bar
    stamped at that date's close; 1h: any hourly bar that day). Two queries."""
    _check_freq(freq)
    members = universe_members(universe, at)
    lo, hi = market_day_bounds(at)
    instruments = {i.symbol: i for i in Instrument.objects.filter(symbol__in=members)}
    have = set(
        Bar.objects.filter(frequency=freq, ts__gte=lo, ts__lt=hi, instrument__symbol__in=members)
        .values_list("instrument__symbol", flat=True)
        .distinct()
    )
    with_bars = [s for s in members if s in have]
    missing = [s for s in members if s not in have]
    return Coverage(
        at=at, freq=freq, members=members, with_bars=with_bars, missing=missing, instruments=instruments
    )


@dataclass(frozen=True)
class CoveragePoint:
    day: date
    members: int
    with_bars: int

    @property
    def missing(self) -> int:
        return self.members - self.with_bars


def universe_coverage_series(
    *, universe: Universe | str | int, start: date, end: date, freq: str
) -> list[CoveragePoint]:
    """Coverage per market date in [start, end]. The dates are those on which the database holds
    any bar of ``freq`` (its sessions; no exchange calendar is stored), so weekends do not show as
    gaps while a session where members lack bars does. Two queries, whatever the range."""
    _check_freq(freq)
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    tz = market_tz()
    intervals: dict[str, list[tuple[date, date | None]]] = defaultdict(list)
    starts: list[date] = []
    ends: list[date] = []
    rows = (
        Membership.objects.filter(universe_id=_universe_id(universe), start_date__lte=end)
        .filter(Q(end_date__isnull=True) | Q(end_date__gt=start))
        .values_list("symbol", "start_date", "end_date")
    )
    for sym, a, b in rows:
        intervals[sym].append((a, b))
        starts.append(a)
        if b is not None:
            ends.append(b)
    starts.sort()
    ends.sort()

    lo, _ = market_day_bounds(start)
    _, hi = market_day_bounds(end)
    pairs = (
        Bar.objects.filter(frequency=freq, ts__gte=lo, ts__lt=hi)
        .annotate(day=TruncDate("ts", tzinfo=tz))
        .values_list("instrument__symbol", "day")
        .distinct()
    )
    with_bars: dict[date, int] = defaultdict(int)
    for sym, day in pairs:
        with_bars[day] += 0
        if any(a <= day and (b is None or day < b) for a, b in intervals.get(sym, ())):
            with_bars[day] += 1
    # members on d = intervals started on or before d minus those ended on or before d.
    return [
        CoveragePoint(day=d, members=bisect_right(starts, d) - bisect_right(ends, d), with_bars=with_bars[d])
        for d in sorted(with_bars)
    ]


def latest_bar_day(freq: str) -> date | None:
    """The most recent market date holding a bar of ``freq`` (the page's default date)."""
    _check_freq(freq)
    last = Bar.objects.filter(frequency=freq).order_by("-ts").values_list("ts", flat=True).first()
    return last.astimezone(market_tz()).date() if last else None
