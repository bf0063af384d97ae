"""The cockpit's row and block shapes, defined once: the snapshot (apps.cockpit.selectors) and the
pushed messages (the services' `stream_publish` payloads) both build them here, so the page applies
a pushed row exactly as it renders a snapshot row.

Units: money and quantities are strings of Decimal; times are ISO 8601 UTC (or null); basis points,
weights and ratios are JSON numbers (or null when unknown). Weights, `drawdown` and
`pnl_today_pct` are fractions (0.0123 = 1.23 %); `drawdown` is <= 0 (0 at the peak);
`gross_exposure` is money (the sum of the positions' absolute market values).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from apps.live.machine import State
from apps.trading.selectors import PositionRow, order_filled_qty

CENT = Decimal("0.01")


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(CENT))


def decimal(value: Decimal | None) -> str | None:
    """A quantity or price as stored (trailing zeros of the column's scale dropped)."""
    return None if value is None else format(value.normalize(), "f")


def when(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def number(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def ratio(part: Decimal, whole: Decimal) -> float | None:
    return float(part / whole) if whole else None


def order_row(order, *, filled_qty: Decimal | None = None) -> dict[str, Any]:
    """An apps.trading Order. `filled_qty`: the sum of its fills (None: one query for it; a
    selector listing many orders annotates it instead)."""
    if filled_qty is None:
        filled_qty = order_filled_qty(order=order)
    return {
        "id": order.pk,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "qty": decimal(order.qty),
        "type": order.type,
        "limit_price": decimal(order.limit_price),
        "status": order.status,
        "reason_code": order.reason_code,
        "bar_time": when(order.bar_time),
        "submitted_at": when(order.submitted_at),
        "filled_qty": decimal(filled_qty),
    }


def fill_row(fill, *, client_order_id: str | None = None) -> dict[str, Any]:
    """An apps.trading Fill. `client_order_id`: its order's (None: read through `fill.order`;
    select it related when listing fills)."""
    return {
        "execution_id": fill.execution_id,
        "symbol": fill.symbol,
        "side": fill.side,
        "qty": decimal(fill.qty),
        "price": decimal(fill.price),
        "fee": decimal(fill.fee),
        "at": when(fill.at),
        "shortfall_decision_bps": number(fill.shortfall_decision_bps),
        "shortfall_arrival_bps": number(fill.shortfall_arrival_bps),
        "client_order_id": fill.order.client_order_id if client_order_id is None else client_order_id,
    }


def position_row(position: PositionRow, *, equity: Decimal, target_weight: float | None) -> dict[str, Any]:
    """One symbol (apps.trading.selectors.PositionRow, marked at `last`; an unmarked position is
    valued at cost and its unrealised PnL is null; qty 0: a fill just closed it).
    `target_weight`: the last decision's."""
    return {
        "symbol": position.symbol,
        "qty": decimal(position.qty),
        "avg_cost": decimal(position.avg_cost),
        "last": decimal(position.mark),
        "market_value": money(position.market_value),
        "unrealised_pnl": money(position.unrealised_pnl),
        "weight": ratio(position.market_value, equity),
        "target_weight": target_weight,
    }


def cycle_row(run) -> dict[str, Any]:
    """An apps.live CycleRun. `orders`: the orders it created that passed the controls;
    `refusals`: the ones the controls refused, by reason code (both from its stored summary, so
    0 / {} while it runs); `duration_ms`: claim to finish (null while running)."""
    summary_orders = (run.summary or {}).get("orders") or {}
    refusals = {code: int(n) for code, n in (summary_orders.get("refusals") or {}).items()}
    duration = None
    if run.finished_at is not None and run.started_at is not None:
        duration = round((run.finished_at - run.started_at).total_seconds() * 1000.0, 1)
    return {
        "id": run.pk,
        "bar_time": when(run.bar_time),
        "status": run.status,
        "step": run.step,
        "duration_ms": duration,
        "orders": int(summary_orders.get("total", 0)) - sum(refusals.values()),
        "refusals": refusals,
        "reason": run.reason,
    }


def reconciliation_row(rec) -> dict[str, Any]:
    """An apps.live Reconciliation."""
    return {
        "at": when(rec.at),
        "trigger": rec.trigger,
        "ok": rec.ok,
        "breaks": rec.breaks,
        "recovered_fills": rec.recovered_fills,
        "resolved_orders": rec.resolved_orders,
    }


def headline_block(
    *,
    equity: Decimal,
    cash: Decimal,
    day_start_equity: Decimal,
    starting_cash: Decimal,
    peak_equity: Decimal,
    gross_exposure: Decimal,
    positions: int,
    governor_state: str | None,
    as_of: dt.datetime | None,
) -> dict[str, Any]:
    """The account's headline. `day_start_equity`: the equity today's PnL is measured from (the
    day's first cycle, else the previous session's close); `peak_equity`: the highest equity of
    the account's history (this equity included)."""
    pnl_today = equity - day_start_equity
    peak = max(peak_equity, equity)
    return {
        "equity": money(equity),
        "cash": money(cash),
        "pnl_today": money(pnl_today),
        "pnl_today_pct": ratio(pnl_today, day_start_equity),
        "pnl_since_inception": money(equity - starting_cash),
        "drawdown": float(equity / peak - 1) if peak > 0 else 0.0,
        "gross_exposure": money(gross_exposure),
        "positions": positions,
        "governor_state": governor_state,
        "as_of": when(as_of),
    }


def killswitch_block(*, account_switch, desk_switch, desk_only: bool = False) -> dict[str, Any]:
    """Kill switch rows (apps.live KillSwitch, None: never pressed = ACTIVE) as the page shows them:
    `state` governs the account (its own switch when pressed, else the desk's, as
    apps.live.selectors.EffectiveSwitch); `reason` / `changed_at` are the governing switch's.
    `desk_only`: the desk switch alone (the desk stream; `account_state` null)."""
    desk_state = desk_switch.state if desk_switch else State.ACTIVE
    account_state = None if desk_only else (account_switch.state if account_switch else State.ACTIVE)
    if account_state not in (None, State.ACTIVE):
        state, governing = account_state, account_switch
    else:
        state = desk_state
        governing = desk_switch if desk_only or desk_state != State.ACTIVE else account_switch
    return {
        "state": str(state),
        "account_state": None if account_state is None else str(account_state),
        "desk_state": str(desk_state),
        "reason": governing.reason if governing else "",
        "changed_at": when(governing.changed_at) if governing else None,
    }


# The checks of the health block; a failing one in DOWN_CHECKS makes the state "down", any other
# failing check "degraded".
HEALTH_CHECKS = ("database", "broker", "worker", "beat", "data_age_s", "queue_depth", "last_reconciliation")
DOWN_CHECKS = frozenset({"database", "worker"})


def health_block(checks: dict[str, tuple[bool, str]]) -> dict[str, Any]:
    """`checks`: name -> (ok, detail) for every name of HEALTH_CHECKS."""
    missing = set(HEALTH_CHECKS) - set(checks)
    if missing:
        raise ValueError(f"health checks missing: {', '.join(sorted(missing))}")
    failing = {name for name, (ok, _detail) in checks.items() if not ok}
    state = "down" if failing & DOWN_CHECKS else "degraded" if failing else "ok"
    return {
        "state": state,
        "checks": {name: {"ok": bool(checks[name][0]), "detail": checks[name][1]} for name in HEALTH_CHECKS},
    }


def alert_row(alert) -> dict[str, Any]:
    """An apps.alerts Alert (open or acknowledged)."""
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "severity": alert.severity,
        "status": alert.status,
        "message": alert.message,
        "count": alert.count,
        "account": alert.account.name if alert.account_id else None,
        "raised_at": when(alert.raised_at),
        "last_seen": when(alert.last_seen),
    }
