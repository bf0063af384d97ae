"""The four comparisons of one reconciliation (the package docstring says what each does). Each
step adds to the `Run`: breaks, counts and a line of detail; broker errors propagate to
`account_reconcile`, which turns them into `BrokerUnavailable`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

from apps.core.statemachine import TransitionError
from apps.trading.brokers.base import Broker, BrokerFill, BrokerOrder, OrderNotFound
from apps.trading.models import Fill, Order, TradingAccount
from apps.trading.orders import IN_FLIGHT, WORKING
from apps.trading.selectors import account_book
from apps.trading.services import fill_record, order_report_apply, order_resolve_in_flight

ZERO = Decimal(0)


def _qty(value: Decimal) -> str:
    """A quantity as plain digits, without the database's trailing zeros ("100", "0.5")."""
    return format(value.normalize(), "f") if value else "0"


@dataclass
class Run:
    """One reconciliation in progress."""

    account: TradingAccount
    broker: Broker
    now: dt.datetime
    since: dt.datetime
    breaks: list[dict[str, Any]] = field(default_factory=list)
    recovered_fills: int = 0
    resolved_orders: int = 0
    notes: list[str] = field(default_factory=list)
    flagged_fills: set[str] = field(default_factory=set)  # unknown executions reported earlier
    reported: set[str] = field(default_factory=set)  # executions this run reported as a break

    @property
    def source(self) -> str:
        return f"reconcile:{self.broker.name}"

    def brk(
        self, kind: str, *, symbol: str = "", ours: Any = "", broker: Any = "", detail: str, **extra
    ) -> None:
        self.breaks.append(
            {"kind": kind, "symbol": symbol, "ours": str(ours), "broker": str(broker), "detail": detail}
            | {k: str(v) for k, v in extra.items()}
        )


# --- a. in flight ------------------------------------------------------------------------------


def settle_in_flight(run: Run) -> None:
    pending = list(Order.objects.filter(account=run.account, status__in=IN_FLIGHT).order_by("pk"))
    for order in pending:
        try:
            order = order_resolve_in_flight(order=order, broker=run.broker, now=run.now)
        except TransitionError as exc:
            run.brk(
                "order_status",
                symbol=order.symbol,
                ours=order.status,
                detail=f"{order.client_order_id}: {exc}",
            )
            continue
        run.resolved_orders += order.status not in IN_FLIGHT
    if pending:
        run.notes.append(f"in flight: {run.resolved_orders} of {len(pending)} settled")


# --- b. recent fills ---------------------------------------------------------------------------


def recover_fills(run: Run) -> None:
    fills = run.broker.fills_since(run.since)
    known = set(
        Fill.objects.filter(
            account=run.account, execution_id__in=[f.execution_id for f in fills]
        ).values_list("execution_id", flat=True)
    )
    missing = [f for f in fills if f.execution_id not in known]
    orders = _orders_for(run.account, missing)
    recovered = 0
    for fill in missing:
        if fill.execution_id in run.reported:  # the second look meets it again
            continue
        order = orders.get(fill.client_order_id) or orders.get(("broker", fill.broker_order_id))
        if order is None:
            _unknown_fill(run, fill)
            continue
        try:
            _row, created = fill_record(order=order, fill=fill, source=run.source)
        except ValueError as exc:  # the fill contradicts its order (symbol, side, amounts)
            run.reported.add(fill.execution_id)
            run.brk("fill_mismatch", symbol=fill.symbol, detail=str(exc), execution_id=fill.execution_id)
            continue
        recovered += created
    run.recovered_fills += recovered
    run.notes.append(
        f"fills since {run.since:%Y-%m-%d %H:%M}: {len(fills)} at the broker, {recovered} recovered"
    )


def _orders_for(account: TradingAccount, fills: list[BrokerFill]) -> dict:
    """The account's orders of `fills`, by client order id and by ("broker", broker order id)."""
    if not fills:
        return {}
    rows = list(Order.objects.filter(account=account, client_order_id__in={f.client_order_id for f in fills}))
    rows += Order.objects.filter(
        account=account, broker_order_id__in={f.broker_order_id for f in fills if f.broker_order_id}
    )
    by_key: dict = {}
    for order in rows:
        by_key[order.client_order_id] = order
        if order.broker_order_id:
            by_key[("broker", order.broker_order_id)] = order
    return by_key


def _unknown_fill(run: Run, fill: BrokerFill) -> None:
    run.reported.add(fill.execution_id)
    if fill.execution_id in run.flagged_fills:
        return
    run.brk(
        "unknown_fill",
        symbol=fill.symbol,
        broker=f"{fill.side} {_qty(fill.qty)} @ {fill.price}",
        detail=f"execution {fill.execution_id} at {fill.at:%Y-%m-%d %H:%M} is for an order this account "
        f"does not know ({fill.client_order_id or fill.broker_order_id})",
        execution_id=fill.execution_id,
        client_order_id=fill.client_order_id,
    )


# --- c. open orders ----------------------------------------------------------------------------


def match_open_orders(run: Run) -> None:
    open_at_broker = run.broker.open_orders()
    ours = set(
        Order.objects.filter(
            account=run.account, client_order_id__in=[o.client_order_id for o in open_at_broker]
        ).values_list("client_order_id", flat=True)
    )
    updated = 0
    for reported in open_at_broker:
        if reported.client_order_id in ours:
            updated += _apply(run, reported)
        else:
            run.brk(
                "unknown_order",
                symbol=reported.symbol,
                broker=f"{reported.side} {_qty(reported.qty)} ({reported.broker_status})",
                detail=f"open order {reported.client_order_id} ({reported.broker_order_id}) is not this "
                "account's",
                client_order_id=reported.client_order_id,
            )
    listed = {o.client_order_id for o in open_at_broker}
    gone = Order.objects.filter(account=run.account, status__in=WORKING - IN_FLIGHT).exclude(
        client_order_id__in=listed
    )
    for order in gone.order_by("pk"):
        try:
            reported = run.broker.order_by_client_id(order.client_order_id)
        except OrderNotFound:
            run.brk(
                "missing_order",
                symbol=order.symbol,
                ours=order.status,
                detail=f"{order.client_order_id} is {order.status} here; the broker has no such order",
                client_order_id=order.client_order_id,
            )
            continue
        updated += _apply(run, reported)
    run.notes.append(f"open orders: {len(open_at_broker)} at the broker, {updated} of ours updated")


def _apply(run: Run, reported: BrokerOrder) -> bool:
    """Apply the broker's view of one of our orders; True when its status changed."""
    before = (
        Order.objects.filter(client_order_id=reported.client_order_id).values_list("status", flat=True).get()
    )
    try:
        after = order_report_apply(report=reported, source=run.source).status
    except TransitionError as exc:
        run.brk(
            "order_status",
            symbol=reported.symbol,
            ours=before,
            broker=reported.broker_status,
            detail=f"{reported.client_order_id}: {exc}",
            client_order_id=reported.client_order_id,
        )
        return False
    return after != before


# --- d. positions ------------------------------------------------------------------------------


def compare_positions(run: Run) -> None:
    found = _position_breaks(run)
    if found:
        run.notes.append("positions differed: second look")
        recover_fills(run)
        found = _position_breaks(run)
    run.breaks += found


def _position_breaks(run: Run) -> list[dict[str, Any]]:
    held: dict[str, Decimal] = {}
    for position in run.broker.positions():
        held[position.symbol] = held.get(position.symbol, ZERO) + position.qty
    ours = {s: p.qty for s, p in account_book(account=run.account).positions.items()}
    tolerance = Decimal(settings.RECONCILE_QTY_TOLERANCE)
    found = []
    for symbol in sorted(set(held) | set(ours)):
        mine, theirs = ours.get(symbol, ZERO), held.get(symbol, ZERO)
        if theirs < 0:
            kind, detail = "negative_position", f"short {_qty(-theirs)} at the broker (the desk is long-only)"
        elif abs(mine - theirs) > tolerance:
            kind, detail = (
                "position",
                f"the broker holds {_qty(theirs)}, the sum of our fills is {_qty(mine)}",
            )
        else:
            continue
        found.append(
            {"kind": kind, "symbol": symbol, "ours": _qty(mine), "broker": _qty(theirs), "detail": detail}
            | {"difference": _qty(theirs - mine)}
        )
    run.notes.append(f"positions: {len(set(held) | set(ours))} symbols compared")
    return found
