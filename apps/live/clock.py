"""The desk's market clock: which bar has closed last, and what time it is for the venue.

- `wall` (live and `make up`): the exchange calendar (workers.engine.calendar, XNYS) on the wall
  clock: the latest bar end at or before now.
- `replay` (the one-process demo): `settings.LIVE_REPLAY_FILE`'s recorded bar ends walked one
  every `REPLAY_SECONDS_PER_BAR` seconds of wall time from `replay_start(first_index=)`, which
  `rundesk --demo` calls with the bar after the last cycle the desk ran (a restarted demo resumes
  where it stopped; the cycles in the database are the record, the start lives in the process).

`market_now()` is what the paper venue's clock and the kill switch's FLAT use; the cycle itself
runs at its bar's time (an order decided at the close of t is submitted at t).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.utils import timezone

from workers.engine.calendar import bar_ends
from workers.engine.market import Frequency

_LOOKBACK = pd.Timedelta(days=10)  # more than any market closure: the last bar end is in it


class ClockError(RuntimeError):
    """The configured clock cannot say what time it is (named)."""


def replay_mode() -> bool:
    if settings.LIVE_CLOCK not in ("wall", "replay"):
        raise ClockError(f"LIVE_CLOCK must be 'wall' or 'replay', not {settings.LIVE_CLOCK!r}")
    return settings.LIVE_CLOCK == "replay"


@cache
def _replay_stamps(path: str) -> tuple[pd.Timestamp, ...]:
    from apps.trading.feeds.replay import ReplayFeed

    if not path or not Path(path).is_file():
        raise ClockError(f"LIVE_REPLAY_FILE {path!r} is not a file")
    return ReplayFeed(path).stamps


def replay_stamps() -> tuple[pd.Timestamp, ...]:
    return _replay_stamps(str(settings.LIVE_REPLAY_FILE))


# Wall time at which the replay delivered its first bar in this process, and that bar's index.
_replay_start: dict[str, tuple[dt.datetime, int]] = {}


def replay_start(*, first_index: int, wall: dt.datetime | None = None) -> None:
    """Start (or restart) the replay at bar `first_index`, delivered at `wall` (default: now)."""
    _replay_start["start"] = (wall or timezone.now(), first_index)


def last_bar_close(now: dt.datetime | None = None, freq: str = Frequency.HOUR) -> pd.Timestamp | None:
    """The newest bar end at or before `now` (None: the replay has not started)."""
    wall = now or timezone.now()
    if replay_mode():
        if "start" not in _replay_start:
            return None
        started, first = _replay_start["start"]
        stamps = replay_stamps()
        k = int((wall - started).total_seconds() // float(settings.REPLAY_SECONDS_PER_BAR))
        return stamps[min(first + max(k, 0), len(stamps) - 1)]
    at = pd.Timestamp(wall).tz_convert("UTC")
    ends = bar_ends(at - _LOOKBACK, at, freq)
    return ends[-1] if len(ends) else None


def market_now() -> dt.datetime:
    """What time it is for the venue: the wall clock live; in a replay, the last delivered bar end
    (orders sent now are 'at' that bar's close). A process that does not run the replay (e.g.
    `manage.py killswitch` beside the demo) takes the replay's time from the database: the newest
    bar a cycle ran at."""
    if not replay_mode():
        return timezone.now()
    last = last_bar_close()
    if last is not None:
        return last.to_pydatetime()
    from apps.live.models import CycleRun

    newest = CycleRun.objects.order_by("-bar_time").values_list("bar_time", flat=True).first()
    if newest is None:
        raise ClockError("the replay has not started: no cycle has run yet")
    return newest
