"""The kill switch's one literal transition table (applied by apps.core.statemachine.StateMachine).

States: `active` (trading), `stopped` (no new orders; open orders stay), `flattening` (FLAT is
closing the positions: only its own risk-reducing sells may be sent), `flat` (verified flat at the
broker; nothing new until UNLOCK), `halted` (set by reconciliation on a break: no new orders,
cancels still allowed, until a risk officer unlocks).

Events: `stop` (a person), `trip` (a pre-trade control: rejection streak, intraday loss),
`cancel` (cancel every open order: never changes the state but is audited), `flat` (start
flattening), `flat_done` / `flat_incomplete` (FLAT's verification against the broker: flat, or
something is left -> back to stopped), `halt` (reconciliation), `unlock_request` (the first
person of a four-eyes unlock: audited, no change), `unlock` (back to active: risk officers only).
A repeated STOP or trip on a switch that already blocks is recorded and changes nothing.
"""

from __future__ import annotations

from django.db import models

from apps.core.statemachine import StateMachine


class State(models.TextChoices):
    ACTIVE = "active", "ACTIVE"
    STOPPED = "stopped", "STOPPED"
    FLATTENING = "flattening", "FLATTENING"
    FLAT = "flat", "FLAT"
    HALTED = "halted", "HALTED"


S = State

KILLSWITCH_MACHINE = StateMachine(
    name="kill switch",
    state_field="state",
    table={
        (S.ACTIVE, "stop"): S.STOPPED,
        (S.ACTIVE, "trip"): S.STOPPED,
        (S.ACTIVE, "cancel"): S.ACTIVE,
        (S.ACTIVE, "flat"): S.FLATTENING,
        (S.ACTIVE, "halt"): S.HALTED,
        (S.STOPPED, "stop"): S.STOPPED,
        (S.STOPPED, "trip"): S.STOPPED,
        (S.STOPPED, "cancel"): S.STOPPED,
        (S.STOPPED, "flat"): S.FLATTENING,
        (S.STOPPED, "halt"): S.HALTED,
        (S.STOPPED, "unlock_request"): S.STOPPED,
        (S.STOPPED, "unlock"): S.ACTIVE,
        (S.FLATTENING, "stop"): S.FLATTENING,
        # FLAT pressed again while flattening: resumes a FLAT whose process died half-way (the
        # switch would otherwise stay flattening: only its own verification moves it on).
        (S.FLATTENING, "flat"): S.FLATTENING,
        (S.FLATTENING, "trip"): S.FLATTENING,
        (S.FLATTENING, "cancel"): S.FLATTENING,
        (S.FLATTENING, "flat_done"): S.FLAT,
        (S.FLATTENING, "flat_incomplete"): S.STOPPED,
        (S.FLATTENING, "halt"): S.HALTED,
        (S.FLAT, "stop"): S.FLAT,
        (S.FLAT, "trip"): S.FLAT,
        (S.FLAT, "cancel"): S.FLAT,
        (S.FLAT, "flat"): S.FLATTENING,
        (S.FLAT, "halt"): S.HALTED,
        (S.FLAT, "unlock_request"): S.FLAT,
        (S.FLAT, "unlock"): S.ACTIVE,
        (S.HALTED, "stop"): S.HALTED,
        (S.HALTED, "trip"): S.HALTED,
        (S.HALTED, "cancel"): S.HALTED,
        (S.HALTED, "halt"): S.HALTED,
        (S.HALTED, "unlock_request"): S.HALTED,
        (S.HALTED, "unlock"): S.ACTIVE,
    },
)

# States in which a switch lets only FLAT's own risk-reducing sells through (none at all in
# `flat` and `halted`, every order in `active`).
REDUCING_ONLY = frozenset({S.STOPPED, S.FLATTENING})

# The `source` FLAT's closing orders carry (order create event and order_submit): the submit path
# recognises them by it, together with side sell and no model version.
FLAT_SOURCE = "killswitch:flat"
