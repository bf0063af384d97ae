"""Number formatting for every page: percent, sensible decimals, units. Views pass raw values
(floats as stored); how a figure is shown is decided here, once, by the figure's name.

    {% load desk_format %}
    {{ run.metrics.max_drawdown|pct }}        -> 12.4%
    {{ check.value|metric:check.name }}       -> by the metric's kind (percent, count, ratio)
"""

from __future__ import annotations

import json
import math

from django import template

register = template.Library()

DASH = "—"
# Metrics stored as fractions and shown as percent.
PERCENT = frozenset(
    {
        "total_return",
        "cagr",
        "annual_volatility",
        "max_drawdown",
        "hit_rate",
        "average_exposure",
        "benchmark_total_return",
        "tracking_error",
        "signal_hit_rate",
    }
)
# Counts shown as whole numbers with thousands separators.
COUNT = frozenset({"n_trades", "paper_days", "max_drawdown_duration_bars", "n_symbols", "n_train_rows"})
MONEY = frozenset({"total_cost", "final_equity", "initial_cash"})
# Ratios with their usual precision.
DECIMALS = {"signal_rank_ic": 4, "signal_ic": 4, "signal_rank_icir": 3, "turnover_annual": 1}


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@register.filter
def pct(value, digits: int = 1) -> str:
    """A fraction as a percent: 0.1234 -> "12.3%"."""
    v = _number(value)
    return DASH if v is None else f"{v * 100:.{int(digits)}f}%"


@register.filter
def num(value, digits: int = 2) -> str:
    v = _number(value)
    return DASH if v is None else f"{v:,.{int(digits)}f}"


@register.filter
def count(value) -> str:
    v = _number(value)
    return DASH if v is None else f"{round(v):,}"


@register.filter
def metric(value, name: str) -> str:
    """A metric or gate value shown by what it measures."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if _number(value) is None:
        return str(value)
    if name in PERCENT:
        return pct(value, 1 if abs(value) >= 0.01 or value == 0 else 2)
    if name in COUNT:
        return count(value)
    if name in MONEY:
        return num(value, 2)
    return num(value, DECIMALS.get(name, 2))


@register.filter
def json_value(value) -> str:
    """A config value as JSON (strings quoted, None as null), for config diffs."""
    return json.dumps(value, sort_keys=True)


@register.filter
def by_value_desc(mapping) -> list[tuple]:
    """(key, value) pairs, largest value first. JSON columns do not keep key order (PostgreSQL's
    jsonb sorts keys), so a ranking stored as an object is ranked again for display."""
    items = list((mapping or {}).items())
    return sorted(items, key=lambda kv: (-(_number(kv[1]) or -math.inf), str(kv[0])))
