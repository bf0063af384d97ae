"""FLAT: STOP (the switch enters FLATTENING: only FLAT's own sells may leave), CANCEL, close every
position the broker reports with risk-reducing sells through the order services (controls and
audit apply; source `killswitch:flat`), verify against the broker (Broker.positions), and store
an append-only FlatReport of anything that could not be closed and why."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from apps.live import permissions
from apps.live.machine import FLAT_SOURCE
from apps.live.models import FlatReport, KillSwitch
from apps.trading.brokers.base import BrokerPosition, TimeInForce
from apps.trading.models import TradingAccount
from apps.trading.permissions import require
from apps.trading.services import KillSwitchTrip, OrderDecision, orders_create, orders_submit

from .cancel import BrokerFor, open_orders_cancel
from .switch import switch_apply


def _mark(position: BrokerPosition) -> Decimal:
    if position.market_value is not None and position.qty > 0:
        return (position.market_value / position.qty).quantize(Decimal("0.01"))
    return position.avg_entry_price


def _why(order) -> str:
    if order.status == "rejected":
        return f"sell refused: {order.reason_code}: {order.reason_detail}"
    return f"sell order {order.status} at the broker, not filled yet"


def killswitch_flat(
    *, by, account: TradingAccount | None, broker_for: BrokerFor, reason: str
) -> list[FlatReport]:
    """FLAT the account (None: every account of the desk, one after the other). Ends in FLAT
    when the broker reports no position, else in STOPPED; returns the stored report(s)."""
    require(by, permissions.FLAT, "press FLAT", system_allowed=False)
    accounts = [account] if account is not None else list(TradingAccount.objects.all())
    return [_flatten(by=by, account=a, broker=broker_for(a), reason=reason) for a in accounts]


def _flatten(*, by, account: TradingAccount, broker, reason: str) -> FlatReport:
    switch_apply(account=account, event="flat", by=by, reason=reason)
    cancelled = open_orders_cancel(account=account, broker=broker, source=FLAT_SOURCE)
    held = {p.symbol: p for p in broker.positions() if p.qty != 0}
    longs = {s: p for s, p in held.items() if p.qty > 0}
    decisions = [
        # GTC: a closing order must not expire at the session close before it could fill (a FLAT
        # pressed in a session's last hour would otherwise leave the positions open).
        OrderDecision(symbol=s, side="sell", qty=p.qty, type="market", time_in_force=TimeInForce.GTC)
        for s, p in sorted(longs.items())
    ]
    orders = []
    if decisions:
        equity = broker.account().equity
        try:
            orders = orders_create(
                account=account,
                model_version=None,
                bar_time=timezone.now().replace(second=0, microsecond=0),
                decisions=decisions,
                marks={s: _mark(p) for s, p in longs.items()},
                day_start_equity=equity if equity > 0 else Decimal(1),
                source=FLAT_SOURCE,
            )
        except KillSwitchTrip as trip:  # a control tripped on the way: recorded, the sells stand
            orders = trip.orders
            switch_apply(
                account=account, event="trip", by=None, reason=f"{trip.trip.reason_code}: {trip.trip.detail}"
            )
        orders = orders_submit(orders=orders, broker=broker, source=FLAT_SOURCE)
    by_symbol = {o.symbol: o for o in orders}
    remaining = {p.symbol: p.qty for p in broker.positions() if p.qty != 0}
    lines = []
    for symbol in sorted(set(held) | set(remaining)):
        order = by_symbol.get(symbol)
        left = remaining.get(symbol, Decimal(0))
        if symbol not in held:
            why = "position appeared at the broker during FLAT"
        elif held[symbol].qty < 0:
            why = "short position at the broker: a reconciliation break, FLAT only sells what is held"
        else:
            why = _why(order) if left else ""
        lines.append(
            {
                "symbol": symbol,
                "held": str(held[symbol].qty) if symbol in held else "0",
                "sell_qty": str(order.qty) if order else "0",
                "client_order_id": order.client_order_id if order else "",
                "order_status": order.status if order else "",
                "remaining": str(left),
                "why": why,
            }
        )
    flat = not remaining
    switch = KillSwitch.objects.get(account=account)
    report = FlatReport.objects.create(
        switch=switch,
        actor=by,
        reason=reason,
        flat=flat,
        lines=lines,
    )
    switch_apply(
        account=account,
        event="flat_done" if flat else "flat_incomplete",
        by=by,
        reason="verified flat at the broker" if flat else f"not flat: {', '.join(sorted(remaining))}",
        payload={"flat_report_id": report.pk, "open_orders_left": cancelled.still_open},
    )
    return report
