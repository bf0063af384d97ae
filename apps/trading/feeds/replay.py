"""A replay of recorded hourly bars (the real fixtures in fixtures/hourly) as if they arrived live.

`ReplayFeed.poll(up_to)` delivers the recorded bars ending by `up_to` that are not stored yet:
it writes them, as they are in the recorded file, to a temporary CSV and imports that through
the validated bar import with `known_at = up_to`, the moment the replay "received" them. So a
point-in-time read at any replayed time sees exactly the bars delivered by then. Re-polling the
same time stores nothing (the import counts identical bars as already stored).

`ReplayClock` is the accelerated market clock for the demo: one recorded bar end every
`seconds_per_bar` of wall time (settings.REPLAY_SECONDS_PER_BAR), from a start bar. The live
cycle asks it for the market time, polls the feed up to it and runs on it (and the PaperBroker's
clock is the same clock, so venue fills follow the replayed hours).

The replayed bars must not be stored already under another source with known_at = their end
(`load_demo_data` loads the hourly fixtures that way): they would be known from the start.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.db.models import Max

from apps.marketdata.models import Bar
from apps.marketdata.services import bars_import
from apps.marketdata.services.reading import bar_file_read
from workers.engine.market import MARKET_TZ, Frequency, hourly_stamp_utc

from .base import FeedResult, bar_freshness


class ReplayError(ValueError):
    """A recording the replay cannot walk, named."""


@dataclass(frozen=True)
class ReplayClock:
    """Market time = the recorded bar end reached after `started_at` + k x `seconds_per_bar`."""

    stamps: tuple[pd.Timestamp, ...]  # the recording's bar ends, increasing (UTC)
    started_at: dt.datetime  # wall time at which `stamps[start]` is delivered
    start: int = 0
    seconds_per_bar: float = 0.0

    def __post_init__(self) -> None:
        if not self.stamps:
            raise ReplayError("a replay clock needs at least one bar end")
        if not self.seconds_per_bar:
            object.__setattr__(self, "seconds_per_bar", float(settings.REPLAY_SECONDS_PER_BAR))
        if self.seconds_per_bar <= 0:
            raise ReplayError(f"seconds_per_bar must be > 0, got {self.seconds_per_bar}")

    def market_now(self, wall: dt.datetime) -> pd.Timestamp:
        """The newest recorded bar end delivered by wall time `wall` (the last one once done)."""
        k = math.floor((wall - self.started_at).total_seconds() / self.seconds_per_bar)
        return self.stamps[min(max(self.start + k, self.start), len(self.stamps) - 1)]

    def done(self, wall: dt.datetime) -> bool:
        return self.market_now(wall) == self.stamps[-1]


class ReplayFeed:
    """The Feed interface over one recorded bar file (long format, New York bar-end stamps)."""

    name = "replay"

    def __init__(
        self,
        path: str | Path,
        *,
        symbols: list[str] | None = None,
        source: str = "replay",
        frequency: Frequency = Frequency.HOUR,
    ) -> None:
        if Frequency(frequency) is not Frequency.HOUR:
            raise ReplayError("the replay walks hourly recordings")
        self.path = Path(path)
        self.source = source
        self.frequency = Frequency(frequency).value
        raw = pd.read_csv(self.path, dtype=str, keep_default_na=False, na_values=[""])
        canonical = bar_file_read(self.path)  # the import's own column mapping (aliases)
        raw["_symbol"] = canonical["symbol"].str.strip().str.upper()
        try:
            raw["_ts"] = hourly_stamp_utc(canonical["timestamp"])
        except (ValueError, TypeError) as exc:
            raise ReplayError(f"{self.path.name}: unreadable bar stamps ({exc})") from exc
        self.symbols = sorted(symbols) if symbols is not None else sorted(raw["_symbol"].unique())
        self._rows = raw[raw["_symbol"].isin(self.symbols)].sort_values("_ts", kind="stable")
        self._columns = [c for c in raw.columns if not c.startswith("_")]
        self.stamps: tuple[pd.Timestamp, ...] = tuple(pd.DatetimeIndex(self._rows["_ts"].unique()))

    def clock(self, *, started_at: dt.datetime, seconds_per_bar: float = 0.0) -> ReplayClock:
        """An accelerated clock that resumes after the newest bar this replay already stored."""
        return ReplayClock(
            stamps=self.stamps,
            started_at=started_at,
            start=self.resume_index(),
            seconds_per_bar=seconds_per_bar,
        )

    def last_delivered(self) -> dt.datetime | None:
        return Bar.objects.filter(
            source=self.source, frequency=self.frequency, instrument__symbol__in=self.symbols
        ).aggregate(last=Max("ts"))["last"]

    def resume_index(self) -> int:
        last = self.last_delivered()
        if last is None:
            return 0
        later = [k for k, ts in enumerate(self.stamps) if ts > last]
        return later[0] if later else len(self.stamps) - 1

    def poll(self, up_to: dt.datetime) -> FeedResult:
        """Deliver the recorded bars ending in (last delivered, up_to], known from `up_to`."""
        up_to_ts = pd.Timestamp(up_to).tz_convert("UTC")
        last = self.last_delivered()
        due = self._rows["_ts"] <= up_to_ts
        if last is not None:
            due &= self._rows["_ts"] > pd.Timestamp(last)
        batch = self._rows[due]
        new_bars: tuple[tuple[str, dt.datetime], ...] = ()
        run_id = None
        if len(batch):
            with tempfile.TemporaryDirectory(prefix="replay-") as tmp:
                path = Path(tmp) / f"{self.path.stem} to {up_to_ts:%Y-%m-%dT%H%MZ}.csv"
                batch[self._columns].to_csv(path, index=False)
                run = bars_import(
                    path=path,
                    freq=self.frequency,
                    source=self.source,
                    tz=MARKET_TZ,
                    skip_invalid=True,  # a bad recorded row is recorded on the run; its symbol goes stale
                    known_at=up_to_ts.to_pydatetime(),
                )
            run_id = run.pk
            new_bars = tuple(
                Bar.objects.filter(import_run_id=run.pk)
                .order_by("ts", "instrument__symbol")
                .values_list("instrument__symbol", "ts")
            )
        past = [ts for ts in self.stamps if ts <= up_to_ts]
        expected = past[-1].to_pydatetime() if past else None
        stale, missing = bar_freshness(
            symbols=self.symbols, frequency=self.frequency, up_to=up_to_ts.to_pydatetime(), expected=expected
        )
        return FeedResult(
            up_to=up_to_ts.to_pydatetime(),
            expected=expected,
            new_bars=new_bars,
            stale=stale,
            missing=missing,
            import_run_id=run_id,
        )
