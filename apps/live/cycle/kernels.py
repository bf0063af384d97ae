"""One `Kernel` per (account, version) per worker process, fed every bar in order.

The optimizer allocator is stateful (warm starts, the volatility search's last risk aversion, the
risk model's refresh cadence: workers.engine.decide.kernel), so bit-identity with the backtest
needs the same Kernel object to see every bar. A process keeps the kernel with the bar it last
decided; a cycle whose previous bar was decided elsewhere (another worker process, or before a
restart) builds a fresh one and says so in the decision record (`kernel: "fresh"`). Rules and the
top-k allocator hold no state: for them a fresh kernel decides exactly as a continued one.
"""

from __future__ import annotations

import datetime as dt
import threading

from apps.trading.controls import WHOLE_SHARES
from workers.engine.decide.kernel import Kernel

_cache: dict[tuple[int, int], tuple[Kernel, dt.datetime]] = {}
_guard = threading.Lock()


def _artifact(version) -> bytes | None:
    if not version.artifact:
        return None
    with version.artifact.open("rb") as fh:
        return fh.read()


def kernel_for(*, account_id: int, version, previous_bar: dt.datetime | None) -> tuple[Kernel, bool]:
    """(kernel, continued): the cached kernel when it last decided `previous_bar`, else a new one."""
    key = (account_id, version.pk)
    with _guard:
        hit = _cache.get(key)
    if hit is not None and previous_bar is not None and hit[1] == previous_bar:
        return hit[0], True
    return Kernel.from_artifact(version.config, _artifact(version), integer_shares=WHOLE_SHARES), False


def kernel_decided(*, account_id: int, version, kernel: Kernel, bar_time: dt.datetime) -> None:
    with _guard:
        _cache[(account_id, version.pk)] = (kernel, bar_time)
