"""The market data feed interface of the live cycle.

A feed brings the bars that closed up to a time into the database through the validated bar
import (apps.marketdata.services.bars_import), stamped `known_at` = when the feed received them,
and reports, by name, the symbols whose data is stale (newest bar older than the bar that should
have arrived) or missing (no bar at all). Nothing is ever filled forward: the cycle blocks
trading a stale or missing symbol and raises an alert (next session's work).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from django.db.models import Max

from apps.marketdata.models import Bar


@dataclass(frozen=True)
class StaleSymbol:
    symbol: str
    last_bar: dt.datetime  # end of its newest bar known at `up_to`
    expected: dt.datetime  # end of the bar it should have by then


@dataclass(frozen=True)
class FeedResult:
    up_to: dt.datetime
    expected: dt.datetime | None  # the newest bar end every symbol should have (None: none yet)
    new_bars: tuple[tuple[str, dt.datetime], ...]  # (symbol, bar end) stored by this poll
    stale: tuple[StaleSymbol, ...]
    missing: tuple[str, ...]
    import_run_id: int | None = None  # the ImportRun that stored them (None: nothing to import)

    @property
    def blocked(self) -> frozenset[str]:
        """Symbols the cycle must not trade on this data."""
        return frozenset(s.symbol for s in self.stale) | frozenset(self.missing)


@runtime_checkable
class Feed(Protocol):
    name: str

    def poll(self, up_to: dt.datetime) -> FeedResult:
        """Store the bars ending by `up_to` that are new, and report what is stale or missing."""
        ...


def bar_freshness(
    *, symbols: list[str], frequency: str, up_to: dt.datetime, expected: dt.datetime | None
) -> tuple[tuple[StaleSymbol, ...], tuple[str, ...]]:
    """(stale, missing) among `symbols`, from the bars known at `up_to` (point in time): missing =
    no bar at all, stale = newest bar ends before `expected`."""
    newest = dict(
        Bar.objects.filter(
            instrument__symbol__in=symbols, frequency=frequency, ts__lte=up_to, known_at__lte=up_to
        )
        .values("instrument__symbol")
        .annotate(last=Max("ts"))
        .values_list("instrument__symbol", "last")
    )
    missing = tuple(s for s in sorted(symbols) if s not in newest)
    stale = tuple(
        StaleSymbol(symbol=s, last_bar=newest[s], expected=expected)
        for s in sorted(newest)
        if expected is not None and newest[s] < expected
    )
    return stale, missing
