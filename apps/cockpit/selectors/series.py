"""The charts: equity per cycle next to SPY rebased to it, drawdown from the running peak, and
the positions' weights by sector."""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from decimal import Decimal

from apps.cockpit.rows import when
from apps.marketdata.models import Bar
from apps.marketdata.selectors.panel import BENCHMARK_SYMBOL

from .book import UNCLASSIFIED, CyclePoint, Marked

_WEEK = dt.timedelta(days=7)  # SPY's last bar before the first cycle may be a long weekend back


def _spy(history: list[CyclePoint], frequency: str) -> list[Decimal | None]:
    """SPY's last close at or before each cycle's bar (one query; None before its first bar)."""
    if not history:
        return []
    for freq in dict.fromkeys((frequency, "1h")):  # as the panel's benchmark: hourly SPY if no other
        rows = list(
            Bar.objects.filter(
                instrument__symbol=BENCHMARK_SYMBOL,
                frequency=freq,
                ts__lte=history[-1].bar_time,
                ts__gte=history[0].bar_time - _WEEK,
            )
            .order_by("ts")
            .values_list("ts", "close")
        )
        if rows:
            break
    stamps = [ts for ts, _c in rows]
    out = []
    for point in history:
        i = bisect.bisect_right(stamps, point.bar_time)
        out.append(rows[i - 1][1] if i else None)
    return out


def account_series(*, marked: Marked, starting_cash: Decimal, frequency: str) -> dict:
    history = marked.history
    spy = _spy(history, frequency)
    base = next(((p.equity, s) for p, s in zip(history, spy, strict=True) if s), None)
    equity = [
        [when(p.bar_time), float(p.equity), float(base[0] * s / base[1]) if base and s else None]
        for p, s in zip(history, spy, strict=True)
    ]
    peak = starting_cash
    drawdown = []
    for p in history:
        peak = max(peak, p.equity)
        drawdown.append([when(p.bar_time), float(p.equity / peak - 1) if peak > 0 else 0.0])
    sectors: dict[str, Decimal] = defaultdict(Decimal)
    for p in marked.pnl.positions:
        sectors[marked.marks.sectors.get(p.symbol, UNCLASSIFIED)] += p.market_value
    equity_now = marked.pnl.equity
    exposure = {s: float(v / equity_now) if equity_now else None for s, v in sorted(sectors.items())}
    return {"equity": equity, "drawdown": drawdown, "sector_exposure": exposure}
