"""Recording fills: idempotent by the broker's execution id, never lost.

A fill is a fact about money: it is recorded whatever state its order is in (a fill after a cancel
request, or after `cancelled`, is real). Recording the same execution again, from the stream, a
REST poll or reconciliation, in any order, returns the row already there. The order's status then
follows from the sum of its fills (`partial_fill` below the order quantity, `fill` at it).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import IntegrityError, transaction

from apps.trading.brokers.base import BrokerFill, OrderSide
from apps.trading.models import Fill, Order
from apps.trading.orders import ORDER_MACHINE
from apps.trading.selectors import order_filled_qty

from .announce import fill_announce
from .transitions import order_note, order_transition

log = logging.getLogger(__name__)
BPS = Decimal(10_000)


def shortfall_bps(*, side: str, price: Decimal, reference: Decimal | None) -> Decimal | None:
    """Implementation shortfall of one fill vs a reference price, in bps; positive = a cost."""
    if reference is None or reference <= 0:
        return None
    sign = 1 if side == OrderSide.BUY else -1
    return (sign * (price - reference) / reference * BPS).quantize(Decimal("0.0001"))


def _validate(order: Order, fill: BrokerFill) -> None:
    if fill.client_order_id and fill.client_order_id != order.client_order_id:
        raise ValueError(
            f"fill {fill.execution_id} is for {fill.client_order_id}, not {order.client_order_id}"
        )
    if fill.symbol != order.symbol or OrderSide(fill.side) != order.side:
        raise ValueError(f"fill {fill.execution_id}: {fill.side} {fill.symbol} does not match order {order}")
    for name in ("qty", "price", "fee"):
        value = getattr(fill, name)
        if not value.is_finite() or value < 0 or (name != "fee" and value == 0):
            raise ValueError(f"fill {fill.execution_id}: {name} {value} is not a valid amount")


def fill_record(*, order: Order, fill: BrokerFill, source: str) -> tuple[Fill, bool]:
    """Record `fill` for `order` once; returns (row, created)."""
    _validate(order, fill)
    with transaction.atomic():
        # The order's row lock serialises its fills, so the status is decided on a settled sum.
        order = Order.objects.select_for_update().get(pk=order.pk)
        existing = Fill.objects.filter(account_id=order.account_id, execution_id=fill.execution_id).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                row = Fill.objects.create(
                    order=order,
                    account_id=order.account_id,
                    execution_id=fill.execution_id,
                    symbol=fill.symbol,
                    side=order.side,
                    qty=fill.qty,
                    price=fill.price,
                    fee=fill.fee,
                    at=fill.at,
                    shortfall_decision_bps=shortfall_bps(
                        side=order.side, price=fill.price, reference=order.decision_price
                    ),
                    shortfall_arrival_bps=shortfall_bps(
                        side=order.side, price=fill.price, reference=order.arrival_price
                    ),
                    raw=fill.raw,
                )
        except IntegrityError:
            # The same execution recorded concurrently for another order row of this account
            # (it cannot be this order: we hold its lock) — the first one stays.
            dup = Fill.objects.filter(account_id=order.account_id, execution_id=fill.execution_id).first()
            if dup is None:
                raise
            return dup, False
        filled = order_filled_qty(order=order)
        event = "fill" if filled >= order.qty else "partial_fill"
        payload = {
            "execution_id": fill.execution_id,
            "qty": str(fill.qty),
            "price": str(fill.price),
            "filled": str(filled),
        }
        if filled > order.qty:
            order_note(
                order=order,
                event="overfill",
                source=source,
                detail=f"filled {filled} > ordered {order.qty}",
                payload=payload,
            )
        fill_announce(order=order, fill=row)
        if ORDER_MACHINE.allows(order.status, event):
            order_transition(order=order, event=event, source=source, payload=payload, filled_qty=filled)
        else:
            order_note(
                order=order,
                event="fill_on_" + order.status,
                source=source,
                detail=f"fill {fill.execution_id} recorded on a {order.status} order: reconciliation must look at it",
                payload=payload,
            )
    return row, True
