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
from collections.abc import Mapping, Sequence
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
    submit_requests,
)
from apps.trading.controls import Reason
from apps.trading.models import Order
from apps.trading.orders import CANCEL_REJECTED_EVENTS, IN_FLIGHT, STALE_REPORTS, STATUS_EVENT

from .create import positive_decimal
from .errors import UnknownOrder
from .fills import fill_record
from .transitions import order_note, order_transition

log = logging.getLogger(__name__)


# Orders sent per hold of the kill switch's shared lock: a STOP pressed during a cycle's submission
# waits for at most one batch's submit transitions and broker call (the paper venue takes a batch
# in one transaction: ~10 ms for 25 orders).
SUBMIT_BATCH = 25


def order_submit(
    *, order: Order, broker: Broker, arrival_price: Decimal | None = None, by=None, source: str = "cycle"
) -> Order:
    """Send a `pending_new` order (anything else is returned as it is: sending twice is never
    right). Must run outside any transaction: the `submit` transition commits before the call."""
    marks = {} if arrival_price is None else {order.symbol: arrival_price}
    (sent,) = orders_submit(orders=[order], broker=broker, arrival_prices=marks, by=by, source=source)
    return sent


def orders_submit(
    *,
    orders: Sequence[Order],
    broker: Broker,
    arrival_prices: Mapping[str, Decimal] | None = None,
    by=None,
    source: str = "cycle",
) -> list[Order]:
    """Send the `pending_new` orders among `orders` (the others are returned as they are), in
    batches of SUBMIT_BATCH to a broker with `submit_many`, one by one to any other: per batch, under the kill switch's shared lock, the switch is read,
    the submit transitions commit (one transaction), then the broker takes the batch
    (`submit_requests`) and its answers are applied (one transaction). `arrival_prices`: symbol ->
    the price at submission (implementation shortfall). Must run outside any transaction.
    Returns the orders, refreshed, in the order given."""
    permissions.require(by, permissions.PLACE_ORDER, "submit orders", system_allowed=True)
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError(
            "order_submit must run outside a transaction: the submit must commit before the broker call"
        )
    prices = arrival_prices or {}
    # A broker that takes one request per call (Alpaca's REST) gets one order per hold of the
    # gate, so a STOP waits for at most one broker call; a batch only pays where the broker takes
    # it in one call (the paper venue's one transaction).
    size = SUBMIT_BATCH if getattr(broker, "submit_many", None) is not None else 1
    out: list[Order] = []
    for k in range(0, len(orders), size):
        out += _submit_batch(list(orders[k : k + size]), broker, prices, by=by, source=source)
    return out


def _submit_batch(
    orders: list[Order], broker: Broker, prices: Mapping[str, Decimal], *, by, source: str
) -> list[Order]:
    _reload(orders)
    pending = [o for o in orders if o.status == OrderStatus.PENDING_NEW]
    if pending:
        # The kill switch is read, and the orders sent, under the switch's shared lock: once a
        # STOP has committed no order reaches the broker (apps.live.gate explains the guarantee).
        with submit_gate(orders=pending) as refusals:
            sendable = []
            for order in pending:
                if refusals[order.pk]:
                    order_transition(
                        order=order,
                        event="deny",
                        source="killswitch",
                        actor=by,
                        detail=refusals[order.pk],
                        reason_code=Reason.KILL_SWITCH.value,
                        reason_detail=refusals[order.pk],
                    )
                else:
                    sendable.append(order)
            _send(sendable, broker, prices, by=by, source=source)
        _reload(orders)
    return orders


def _reload(orders: list[Order]) -> None:
    """refresh_from_db of every order, in one query."""
    fresh = Order.objects.in_bulk([o.pk for o in orders])
    for order in orders:
        row = fresh[order.pk]
        for f in Order._meta.concrete_fields:
            setattr(order, f.attname, getattr(row, f.attname))


def _send(orders: list[Order], broker: Broker, prices: Mapping[str, Decimal], *, by, source: str) -> None:
    now = timezone.now()
    with transaction.atomic():  # every submit committed before the broker call
        won = [
            order
            for order in orders
            if order_transition(
                order=order,
                event="submit",
                source=source,
                actor=by,
                submitted_at=now,
                arrival_price=positive_decimal("arrival_price", prices.get(order.symbol)),
            )
        ]  # an order not won is being submitted by another worker
    if not won:
        return
    requests = [
        OrderRequest(
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=OrderSide(order.side),
            qty=order.qty,
            type=OrderType(order.type),
            time_in_force=TimeInForce(order.time_in_force),
            limit_price=order.limit_price,
        )
        for order in won
    ]
    broker_source = f"broker:{broker.name}"
    outcomes = submit_requests(broker, requests)
    duplicates = []
    with transaction.atomic():
        for order, outcome in zip(won, outcomes, strict=True):
            if isinstance(outcome, OrderRejected):
                code = f"broker:{outcome.code or outcome.http_status or 'rejected'}"
                order_transition(
                    order=order,
                    event="reject",
                    source=broker_source,
                    detail=str(outcome),
                    reason_code=code[:32],
                    reason_detail=str(outcome),
                )
            elif isinstance(outcome, DuplicateClientOrderId):
                order_note(
                    order=order, event="duplicate_client_order_id", source=broker_source, detail=str(outcome)
                )
                duplicates.append(order)
            elif isinstance(outcome, OutcomeUnknown):
                order_note(
                    order=order,
                    event="outcome_unknown",
                    source=broker_source,
                    detail=f"{type(outcome).__name__}: {outcome}",
                )
            else:
                order_report_apply(report=outcome, source=broker_source)
    for order in duplicates:
        order_resolve_in_flight(order=order, broker=broker)


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
