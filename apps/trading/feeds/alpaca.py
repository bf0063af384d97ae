"""Hourly bars from Alpaca Market Data v2 (`GET /v2/stocks/bars`, timeframe 1Hour), imported
through the desk's one validated bar import (apps.marketdata.services.bars_import).

`alpaca_hourly_bars_import(symbols=..., expected_through=...)` asks for every symbol's bars since
its last stored hourly bar (a symbol with none: since now - settings.ALPACA_BARS_LOOKBACK), in
pages (`next_page_token`), on the feed settings.ALPACA_DATA_FEED (iex | sip), and:

- stamps each bar at its END: Alpaca's `t` is the bar's START, ours is `t + 1 h`;
- drops the bar still in progress (end later than the moment we received the answer): it would
  change, and a stored bar must not;
- imports the complete new bars as one ImportRun (validation, conflict check against stored bars,
  instruments created as needed), with `skip_invalid` so that one symbol's bad bar does not block
  the other symbols; a rejected bar simply does not land and its symbol shows up as stale;
- sets `known_at` of the new bars to the time we received them (the import path stamps
  known_at = ts, which is right for history files and wrong for a live feed: a point-in-time read
  must not see a bar before we had it). The import and this update are one transaction, so no
  reader ever sees the bars with the earlier known_at;
- reports, never fills: `stale` names the symbols whose latest stored bar ends before
  `expected_through` (the bar end the caller needs, from the exchange calendar), `missing` those
  with no hourly bar at all. The caller blocks trading them and raises the alert.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.marketdata.models import Bar, ImportRun
from apps.marketdata.services import bars_import
from apps.trading.brokers.alpaca.credentials import credentials_from_env
from apps.trading.brokers.alpaca.http import AlpacaHttp
from apps.trading.brokers.alpaca.mapping import MalformedAnswer, timestamp
from workers.engine.market import MARKET_TZ, Frequency

TIMEFRAME = "1Hour"
BAR_LENGTH = dt.timedelta(hours=1)
PAGE_LIMIT = 10_000  # Alpaca's maximum bars per page
SYMBOLS_PER_REQUEST = 100


@dataclass(frozen=True)
class FeedResult:
    import_run: ImportRun | None  # None when no complete new bar arrived
    received: int  # complete new bars handed to the import
    in_progress: int  # bars still forming when received: dropped, fetched again next time
    stale: tuple[str, ...]  # latest stored bar ends before expected_through
    missing: tuple[str, ...]  # no hourly bar stored at all

    @property
    def blocked(self) -> tuple[str, ...]:
        """Symbols that must not trade this bar: stale or missing."""
        return tuple(sorted({*self.stale, *self.missing}))


def data_http() -> AlpacaHttp:
    """The market-data session, keys from the environment (credentials.py)."""
    return AlpacaHttp(base_url=settings.ALPACA_DATA_URL, credentials=credentials_from_env())


def last_stored_ends(symbols: Iterable[str]) -> dict[str, dt.datetime]:
    """symbol -> end (UTC) of its latest stored hourly bar, for the symbols that have one."""
    rows = (
        Bar.objects.filter(frequency=Frequency.HOUR.value, instrument__symbol__in=list(symbols))
        .values("instrument__symbol")
        .annotate(last=Max("ts"))
    )
    return {r["instrument__symbol"]: r["last"] for r in rows}


def alpaca_bars_fetch(
    *, http: AlpacaHttp, symbols: Sequence[str], start: dt.datetime, end: dt.datetime, feed: str
) -> list[dict]:
    """Every 1Hour bar starting in [start, end] for `symbols`, all pages: dicts of symbol, t
    (start), o, h, l, c, v as Alpaca sends them."""
    bars: list[dict] = []
    for i in range(0, len(symbols), SYMBOLS_PER_REQUEST):
        params = {
            "symbols": ",".join(symbols[i : i + SYMBOLS_PER_REQUEST]),
            "timeframe": TIMEFRAME,
            "start": start.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "end": end.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "limit": PAGE_LIMIT,
            "adjustment": "raw",  # the desk adjusts for splits itself (point in time)
            "feed": feed,
            "sort": "asc",
        }
        while True:
            page = http.get_json("/v2/stocks/bars", params=params)
            for symbol, rows in (page.get("bars") or {}).items():
                bars += [{"symbol": symbol, **row} for row in rows]
            token = page.get("next_page_token")
            if not token:
                break
            params["page_token"] = token
    return bars


def _frame(
    bars: list[dict], *, since: dict[str, dt.datetime], received_at: dt.datetime
) -> tuple[pd.DataFrame, int]:
    """(bar-end stamped frame of the complete bars newer than each symbol's stored end, number of
    bars still in progress)."""
    rows, in_progress = [], 0
    for bar in bars:
        try:
            end = timestamp(bar["t"], "t") + BAR_LENGTH
            values = {f: bar[k] for f, k in (("open", "o"), ("high", "h"), ("low", "l"), ("close", "c"))}
            volume = bar["v"]
        except KeyError as exc:
            raise MalformedAnswer(f"bar {bar}: field {exc} missing") from None
        if end > received_at:
            in_progress += 1
            continue
        last = since.get(bar["symbol"])
        if last is not None and end <= last:
            continue
        rows.append({"symbol": bar["symbol"], "timestamp": end, **values, "volume": volume})
    columns = ["symbol", "timestamp", "open", "high", "low", "close", "volume"]
    return pd.DataFrame(rows, columns=columns), in_progress


def alpaca_hourly_bars_import(
    *,
    symbols: Sequence[str],
    expected_through: dt.datetime,
    http: AlpacaHttp | None = None,
    feed: str | None = None,
    user=None,
) -> FeedResult:
    """Fetch and import the new hourly bars of `symbols`; see the module docstring."""
    symbols = sorted(set(symbols))
    feed = feed or settings.ALPACA_DATA_FEED
    stored = last_stored_ends(symbols)
    now = timezone.now()
    lookback_start = now - settings.ALPACA_BARS_LOOKBACK
    start = min([*stored.values(), lookback_start]) if len(stored) < len(symbols) else min(stored.values())
    own_http = http is None
    http = http or data_http()
    try:
        bars = alpaca_bars_fetch(http=http, symbols=symbols, start=start, end=now, feed=feed)
    finally:
        if own_http:
            http.close()
    received_at = timezone.now()
    frame, in_progress = _frame(bars, since=stored, received_at=received_at)
    run = None
    if len(frame):
        with tempfile.TemporaryDirectory(prefix="hourglass-alpaca-") as tmp:
            path = Path(tmp) / f"alpaca-{feed}-1h-{received_at:%Y%m%dT%H%M%SZ}.parquet"
            frame.to_parquet(path, index=False)
            with transaction.atomic():
                run = bars_import(
                    path=path,
                    freq=Frequency.HOUR.value,
                    source=f"alpaca-{feed}",
                    tz=MARKET_TZ,
                    skip_invalid=True,
                    user=user,
                )
                Bar.objects.filter(import_run_id=run.pk).update(known_at=received_at)
    after = last_stored_ends(symbols)
    return FeedResult(
        import_run=run,
        received=len(frame),
        in_progress=in_progress,
        stale=tuple(s for s in symbols if s in after and after[s] < expected_through),
        missing=tuple(s for s in symbols if s not in after),
    )
