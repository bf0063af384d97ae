"""CANCEL: every open order of an account, in bulk (Broker.cancel_all), then each order's status
reconciled from the broker through the order services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from apps.live import permissions
from apps.trading.brokers.base import Broker, BrokerError
from apps.trading.controls import Reason
from apps.trading.models import Order, TradingAccount
from apps.trading.orders import WORKING
from apps.trading.permissions import require
from apps.trading.services import order_report_apply, order_transition

from .switch import switch_apply

BrokerFor = Callable[[TradingAccount], Broker]


@dataclass
class CancelSummary:
    account: str
    unsent_denied: int = 0  # pending_new orders refused before they left
    cancelled: int = 0  # working orders the broker now reports cancelled
    still_open: list[str] = field(default_factory=list)  # client order ids still working, and why
    broker_refusals: list[str] = field(default_factory=list)  # cancel_all entries not ok


def open_orders_cancel(*, account: TradingAccount, broker: Broker, source: str) -> CancelSummary:
    """Cancel every open order of `account` (no permission check: for the kill switch services)."""
    summary = CancelSummary(account=account.name)
    for order in Order.objects.filter(account=account, status="pending_new"):
        detail = "cancelled by the kill switch before it was sent"
        if order_transition(
            order=order,
            event="deny",
            source=source,
            detail=detail,
            reason_code=Reason.KILL_SWITCH.value,
            reason_detail=detail,
        ):
            summary.unsent_denied += 1
    working = list(Order.objects.filter(account=account, status__in=WORKING))
    with transaction.atomic():  # every cancel request committed (at once) before the broker call
        for order in working:
            if order.status != "pending_cancel":
                order_transition(order=order, event="cancel_request", source=source)
    results = broker.cancel_all()
    summary.broker_refusals = [f"{r.broker_order_id}: {r.detail}" for r in results if not r.ok]
    reports = []  # asked outside any transaction (a real broker answers over the network)
    for order in working:
        try:
            reports.append((order, broker.order_by_client_id(order.client_order_id)))
        except BrokerError as exc:
            summary.still_open.append(f"{order.client_order_id}: lookup failed ({type(exc).__name__}: {exc})")
    with transaction.atomic():  # the answers applied in one transaction (500 orders: one commit)
        for order, reported in reports:
            order = order_report_apply(report=reported, source=f"broker:{broker.name}")
            if order.status == "cancelled":
                summary.cancelled += 1
            elif order.status in WORKING:
                summary.still_open.append(f"{order.client_order_id}: {order.status} at the broker")
    return summary


def killswitch_cancel(
    *, by, account: TradingAccount | None, broker_for: BrokerFor, reason: str
) -> list[CancelSummary]:
    """CANCEL every open order of the account (None: of every account of the desk). The switch's
    state does not change; the press is audited on the switch."""
    require(by, permissions.CANCEL, "press CANCEL", system_allowed=False)
    switch_apply(account=account, event="cancel", by=by, reason=reason)
    accounts = [account] if account is not None else list(TradingAccount.objects.all())
    return [open_orders_cancel(account=a, broker=broker_for(a), source="killswitch:cancel") for a in accounts]
