"""The order path after creation (services/create.py): submit (the broker error contract of
apps.trading.brokers.base), resolve orders in flight, apply broker reports.

Never a duplicate order: the client order id is derived from (account, cycle bar, symbol, side)
and UNIQUE, so `order_create` called again for the same decision returns the row already there,
and the broker refuses a second submission of the same id (`DuplicateClientOrderId`: adopt the
first). An order is committed before it is sent, and the `submit` transition is committed before
the broker call: a crash after it leaves an order in flight that `order_resolve_in_flight` looks
up by client order id, never one that is sent again blindly.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.live.gate import submit_gate
from apps.trading import permissions
from apps.trading.brokers.base import (
    Broker,
    BrokerOrder,
    DuplicateClientOrderId,
    OrderEventReport,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    OutcomeUnknown,
    TimeInForce,
)
from apps.trading.controls import Reason
from apps.trading.models import Order
from apps.trading.orders import CANCEL_REJECTED_EVENTS, IN_FLIGHT, STALE_REPORTS, STATUS_EVENT

from .create import positive_decimal
from .errors import UnknownOrder
from .fills import fill_record
from .transitions import order_note, order_transition

log = logging.getLogger(__name__)


def order_submit(
    *, order: Order, broker: Broker, arrival_price: Decimal | None = None, by=None, source: str = "cycle"
) -> Order:
    """Send a `pending_new` order (anything else is returned as it is: sending twice is never
    right). Must run outside any transaction: the `submit` transition commits before the call."""
    permissions.require(by, permissions.PLACE_ORDER, "submit orders", system_allowed=True)
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError(
            "order_submit must run outside a transaction: the submit must commit before the broker call"
        )
    order.refresh_from_db()
    if order.status != OrderStatus.PENDING_NEW:
        return order
    # The kill switch is read, and the order sent, under the switch's shared lock: once a STOP
    # has committed no order reaches the broker (apps.live.gate explains the guarantee).
    with submit_gate(order=order) as refusal:
        if refusal:
            order_transition(
                order=order,
                event="deny",
                source="killswitch",
                actor=by,
                detail=refusal,
                reason_code=Reason.KILL_SWITCH.value,
                reason_detail=refusal,
            )
            return order
        return _send(order=order, broker=broker, arrival_price=arrival_price, by=by, source=source)


def _send(*, order: Order, broker: Broker, arrival_price: Decimal | None, by, source: str) -> Order:
    won = order_transition(
        order=order,
        event="submit",
        source=source,
        actor=by,
        submitted_at=timezone.now(),
        arrival_price=positive_decimal("arrival_price", arrival_price),
    )
    if not won:  # another worker is submitting it
        order.refresh_from_db()
        return order
    request = OrderRequest(
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=OrderSide(order.side),
        qty=order.qty,
        type=OrderType(order.type),
        time_in_force=TimeInForce(order.time_in_force),
        limit_price=order.limit_price,
    )
    broker_source = f"broker:{broker.name}"
    try:
        reported = broker.submit(request)
    except OrderRejected as exc:
        code = f"broker:{exc.code or exc.http_status or 'rejected'}"
        order_transition(
            order=order,
            event="reject",
            source=broker_source,
            detail=str(exc),
            reason_code=code[:32],
            reason_detail=str(exc),
        )
        return order
    except DuplicateClientOrderId as exc:
        order_note(order=order, event="duplicate_client_order_id", source=broker_source, detail=str(exc))
        return order_resolve_in_flight(order=order, broker=broker)
    except OutcomeUnknown as exc:
        order_note(
            order=order, event="outcome_unknown", source=broker_source, detail=f"{type(exc).__name__}: {exc}"
        )
        return order
    order_report_apply(report=reported, source=broker_source)
    order.refresh_from_db()
    return order


def order_resolve_in_flight(*, order: Order, broker: Broker, now: dt.datetime | None = None) -> Order:
    """Settle an order sent with no answer yet by asking the broker for its client order id:
    found -> adopt the broker's view; definitively not found for longer than
    TRADING_IN_FLIGHT_NOT_FOUND_S -> it never landed (`reject`, reason `not_found_at_broker`);
    otherwise (still young, or the lookup itself failed) it stays in flight."""
    order.refresh_from_db()
    if order.status not in IN_FLIGHT:
        return order
    source = f"broker:{broker.name}"
    try:
        reported = broker.order_by_client_id(order.client_order_id)
    except OrderNotFound:
        age = ((now or timezone.now()) - order.submitted_at).total_seconds()
        if age >= settings.TRADING_IN_FLIGHT_NOT_FOUND_S:
            detail = f"the broker has no order {order.client_order_id} {age:.0f} s after it was sent"
            order_transition(
                order=order,
                event="reject",
                source=source,
                detail=detail,
                reason_code="not_found_at_broker",
                reason_detail=detail,
            )
        return order
    except OutcomeUnknown as exc:
        log.warning("order %s: lookup failed, stays in flight: %s", order.client_order_id, exc)
        return order
    order_report_apply(report=reported, source=source)
    order.refresh_from_db()
    return order


def order_report_apply(*, report: BrokerOrder | OrderEventReport, source: str) -> Order:
    """Apply what the broker says about one of our orders: its fill (if the report carries one)
    and its status. Duplicate and stale reports (an `accepted` arriving after the fill) change
    nothing; a status the table cannot reach from ours raises TransitionError (logged)."""
    broker_order = report.order if isinstance(report, OrderEventReport) else report
    fill = report.fill if isinstance(report, OrderEventReport) else None
    order = Order.objects.filter(client_order_id=broker_order.client_order_id).first()
    if order is None:
        raise UnknownOrder(f"no order with client order id {broker_order.client_order_id!r} ({source})")
    if not order.broker_order_id and broker_order.broker_order_id:
        Order.objects.filter(pk=order.pk, broker_order_id="").update(
            broker_order_id=broker_order.broker_order_id
        )
    if fill is not None:
        fill_record(order=order, fill=fill, source=source)
    order.refresh_from_db()
    target = OrderStatus(broker_order.status)
    event = STATUS_EVENT.get(target)
    if event is None and target in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED):
        # The broker has the order and has filled some of it; our status follows the fills we
        # record, but the order is no longer in flight.
        event = "accept" if order.status == OrderStatus.SUBMITTED else None
    if order.status == OrderStatus.PENDING_CANCEL and (
        (isinstance(report, OrderEventReport) and report.event in CANCEL_REJECTED_EVENTS)
        or (
            not isinstance(report, OrderEventReport)
            and target in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
        )
    ):
        # The cancel failed: said by the stream's own event, or by a REST snapshot (the broker's
        # current state) showing the order still working. A streamed `new` seen after our cancel
        # request is only late, and stays stale below.
        event = "cancel_reject"
    elif event is None or order.status == target or (order.status, event) in STALE_REPORTS:
        return order
    payload = broker_order.raw or {"status": broker_order.broker_status}
    fields = {}
    if event == "reject":
        fields = {"reason_code": "broker_rejected", "reason_detail": broker_order.broker_status}
    # order_transition raises TransitionError (logged) when the table forbids the move.
    if not order_transition(order=order, event=event, source=source, payload=payload, **fields):
        order.refresh_from_db()  # moved on concurrently; the newer state stands
    return order
