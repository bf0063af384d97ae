"""The venue order state machine: one literal table (an apps.core.statemachine.StateMachine).

A single move (cancel) goes through `StateMachine.apply` (conditional update + event row). The
set-based moves (advancing over bars, cancel all) look every move up in the same table
(`next_state`, which raises on a forbidden one) and write the rows in bulk, conditionally on the
states read, with their event rows, under the venue account's row lock: one statement for 500
orders instead of four each.

A paper order is accepted synchronously on submission (or refused, and then never stored, as
Alpaca answers 403/422 without creating an order). Statuses are the broker interface's names
(apps.trading.brokers.base.OrderStatus), so the adapter reports them as they are.
"""

from __future__ import annotations

from enum import StrEnum

from apps.core.statemachine import StateMachine
from apps.trading.brokers.base import OrderStatus


class VenueStatus(StrEnum):
    ACCEPTED = OrderStatus.ACCEPTED.value
    PARTIALLY_FILLED = OrderStatus.PARTIALLY_FILLED.value
    FILLED = OrderStatus.FILLED.value
    CANCELLED = OrderStatus.CANCELLED.value
    EXPIRED = OrderStatus.EXPIRED.value


class VenueEvent(StrEnum):
    PARTIAL_FILL = "partial_fill"
    FILL = "fill"
    CANCEL = "cancel"
    EXPIRE = "expire"


A, P = VenueStatus.ACCEPTED, VenueStatus.PARTIALLY_FILLED
VENUE_ORDER = StateMachine(
    name="paper venue order",
    table={
        (A, VenueEvent.PARTIAL_FILL): P,
        (A, VenueEvent.FILL): VenueStatus.FILLED,
        (A, VenueEvent.CANCEL): VenueStatus.CANCELLED,
        (A, VenueEvent.EXPIRE): VenueStatus.EXPIRED,
        (P, VenueEvent.PARTIAL_FILL): P,
        (P, VenueEvent.FILL): VenueStatus.FILLED,
        (P, VenueEvent.CANCEL): VenueStatus.CANCELLED,
        (P, VenueEvent.EXPIRE): VenueStatus.EXPIRED,
    },
    terminal=frozenset({VenueStatus.FILLED, VenueStatus.CANCELLED, VenueStatus.EXPIRED}),
)
OPEN = (A.value, P.value)
