"""The one way an order changes state: ORDER_MACHINE applied by StateMachine (conditional update)
with its OrderEvent row and its pushed `order` message (apps.trading.services.announce) in the
same transaction."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.db import transaction

from apps.trading.models import Order, OrderEvent
from apps.trading.orders import ORDER_MACHINE

from .announce import order_announce

log = logging.getLogger(__name__)


def order_transition(
    *,
    order: Order,
    event: str,
    source: str,
    actor=None,
    detail: str = "",
    payload: dict[str, Any] | None = None,
    announce: bool = True,
    filled_qty: Decimal | None = None,
    **fields: Any,
) -> bool:
    """Apply `event` to `order` (TransitionError if the table forbids it; False if the row moved
    on since it was read, in which case nothing was written). `announce=False`: the caller
    pushes the order itself (a batch); `filled_qty`: the order's filled sum when the caller
    knows it (saves the message a query)."""

    def record(from_status: str, to_status: str) -> None:
        OrderEvent.objects.create(
            order=order,
            event=event,
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            source=source,
            detail=detail[:5000],
            payload=payload or {},
        )

    with transaction.atomic():
        won = ORDER_MACHINE.apply(order, event, record=record, **fields)
        if won and announce:
            order_announce(order=order, filled_qty=filled_qty)
    return won


def order_note(
    *, order: Order, event: str, source: str, detail: str, payload: dict[str, Any] | None = None
) -> None:
    """An event row that is not a transition: something met on the way (an unknown submission
    outcome, a fill on an order that cannot take one), kept in the order's history and logged."""
    log.warning("order %s: %s: %s", order.client_order_id, event, detail)
    OrderEvent.objects.create(
        order=order,
        event=event,
        from_status=order.status,
        to_status=order.status,
        source=source,
        detail=detail[:5000],
        payload=payload or {},
    )
