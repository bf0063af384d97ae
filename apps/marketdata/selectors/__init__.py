"""Market-data reads: point-in-time bar panels, coverage per instrument, import history.

The engine's point-in-time `Panel` of a universe (bars, membership, splits known at t, benchmark)
is `apps.marketdata.selectors.panel.panel_build`, a submodule this package does not import (it
reads universe memberships, and the universes app reads this package).

Panels come back as float64 (T x N) frames indexed by UTC bar-end stamps, the engine's currency;
the Decimal -> float conversion happens in SQL (Cast) so a large panel never builds millions of
Decimal objects. Missing bars stay NaN: nothing here fills gaps.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
from django.db.models import Count, F, FloatField, Max, Min, Q, QuerySet
from django.db.models.functions import Cast

from workers.engine.market import MARKET_TZ, OHLCV

from ..models import Bar, ImportRun, Instrument


def market_tz() -> ZoneInfo:
    """The exchange's wall-clock zone (the engine's `MARKET_TZ`, the one definition): bars are
    stored in UTC and turned into market dates with it."""
    return ZoneInfo(MARKET_TZ)


def _bars(
    *, symbols: Sequence[str], freq: str, start: datetime, end: datetime, as_of: datetime | None
) -> QuerySet:
    qs = Bar.objects.filter(instrument__symbol__in=list(symbols), frequency=freq, ts__gte=start, ts__lte=end)
    if as_of is not None:
        # Point-in-time: a bar that became known after `as_of` did not exist yet.
        qs = qs.filter(known_at__lte=as_of)
    return qs


def _long(qs: QuerySet, fields: Iterable[str]) -> pd.DataFrame:
    fields = list(fields)
    casts = {f"v_{f}": Cast(f, FloatField()) for f in fields}
    rows = qs.annotate(symbol=F("instrument__symbol"), **casts).values_list("symbol", "ts", *casts)
    frame = pd.DataFrame.from_records(list(rows), columns=["symbol", "ts", *fields])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def _wide(long: pd.DataFrame, field: str, symbols: Sequence[str]) -> pd.DataFrame:
    wide = long.pivot(index="ts", columns="symbol", values=field).reindex(columns=list(symbols))
    wide = wide.astype("float64").sort_index()
    wide.index.name, wide.columns.name = "ts", None
    return wide


def _check_field(field: str) -> None:
    if field not in OHLCV:
        raise ValueError(f"unknown bar field {field!r}: expected one of {', '.join(OHLCV)}")


def bars_panel(
    *,
    symbols: Sequence[str],
    freq: str,
    start: datetime,
    end: datetime,
    as_of: datetime | None = None,
    field: str = "close",
) -> pd.DataFrame:
    """One field as a T x N float frame: index = UTC bar-end stamps in [start, end] where any of
    the symbols has a bar, columns = `symbols` in the given order (all-NaN if a symbol has none).
    With `as_of`, only bars with known_at <= as_of are used."""
    _check_field(field)
    long = _long(_bars(symbols=symbols, freq=freq, start=start, end=end, as_of=as_of), [field])
    return _wide(long, field, symbols)


def bars_panel_ohlcv(
    *,
    symbols: Sequence[str],
    freq: str,
    start: datetime,
    end: datetime,
    as_of: datetime | None = None,
) -> dict[str, pd.DataFrame]:
    """open/high/low/close/volume panels on one shared index (one query), as bars_panel."""
    long = _long(_bars(symbols=symbols, freq=freq, start=start, end=end, as_of=as_of), OHLCV)
    return {f: _wide(long, f, symbols) for f in OHLCV}


def instrument_coverage(*, instrument_ids: Iterable[int] | None = None) -> list[dict]:
    """Per instrument, frequency and source: symbol, first and last bar stamp (UTC) and bar count,
    aggregated in the database (GROUP BY on the bar table; the unique index covers the instrument
    filter). Dicts with instrument_id, symbol, frequency, source, first_ts, last_ts, bars."""
    qs = Bar.objects.all()
    if instrument_ids is not None:
        qs = qs.filter(instrument_id__in=list(instrument_ids))
    rows = (
        qs.values("instrument_id", "frequency", "source")
        .annotate(symbol=F("instrument__symbol"), first_ts=Min("ts"), last_ts=Max("ts"), bars=Count("id"))
        .order_by("symbol", "frequency", "source")
    )
    return list(rows)


def instruments_with_coverage(*, search: str = "", sector: str = "") -> QuerySet:
    """Instruments matching a free-text search (symbol, name, sub-industry) and a sector filter;
    the page attaches coverage (instrument_coverage) to the page of instruments it shows."""
    qs = Instrument.objects.all()
    if search:
        qs = qs.filter(
            Q(symbol__icontains=search) | Q(name__icontains=search) | Q(sub_industry__icontains=search)
        )
    if sector:
        qs = qs.filter(sector=sector)
    return qs.order_by("symbol")


def instrument_sectors() -> list[str]:
    return list(
        Instrument.objects.exclude(sector="").order_by("sector").values_list("sector", flat=True).distinct()
    )


def import_runs_recent(*, limit: int = 50, kind: str | None = None) -> QuerySet:
    qs = ImportRun.objects.select_related("created_by").defer("rejects")
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-created_at", "-id")[:limit]
