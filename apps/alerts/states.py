"""The alert and delivery state machines: one literal table each (apps.core.statemachine)."""

from __future__ import annotations

from apps.core.statemachine import StateMachine

from .models import AlertStatus, DeliveryStatus

A = AlertStatus
D = DeliveryStatus

ALERT_MACHINE = StateMachine(
    name="alert",
    table={
        (A.OPEN, "acknowledge"): A.ACKNOWLEDGED,
        (A.OPEN, "resolve"): A.RESOLVED,
        (A.ACKNOWLEDGED, "resolve"): A.RESOLVED,
    },
    terminal=frozenset({A.RESOLVED}),
)

DELIVERY_MACHINE = StateMachine(
    name="alert delivery",
    table={
        (D.PENDING, "deliver"): D.DELIVERED,
        (D.PENDING, "give_up"): D.FAILED,
    },
    terminal=frozenset({D.DELIVERED, D.FAILED}),
)
