"""The kill switch table: every allowed edge applies on a real row with its event row; every
other (state, event) pair raises TransitionError and writes nothing."""

from __future__ import annotations

import itertools

import pytest

from apps.core.statemachine import TransitionError
from apps.live.machine import KILLSWITCH_MACHINE, State
from apps.live.models import KillSwitch, KillSwitchEvent
from apps.live.services import switch_apply

EVENTS = sorted({e for (_s, e) in KILLSWITCH_MACHINE.table})
ALLOWED = sorted(KILLSWITCH_MACHINE.table.items())
REFUSED = [
    (s, e) for s, e in itertools.product(State.values, EVENTS) if (s, e) not in KILLSWITCH_MACHINE.table
]


def test_table_covers_the_five_states_and_the_events_of_the_brief():
    assert KILLSWITCH_MACHINE.states == frozenset(State.values)
    assert set(EVENTS) == {
        "stop",
        "trip",
        "cancel",
        "flat",
        "flat_done",
        "flat_incomplete",
        "halt",
        "unlock_request",
        "unlock",
    }
    # cancel never changes the state; only unlock returns to active
    assert all(KILLSWITCH_MACHINE.table[(s, "cancel")] == s for s in State.values)
    back_to_active = {
        (s, e) for (s, e), to in KILLSWITCH_MACHINE.table.items() if to == State.ACTIVE and s != to
    }
    assert back_to_active == {(State.STOPPED, "unlock"), (State.FLAT, "unlock"), (State.HALTED, "unlock")}


@pytest.mark.parametrize(("edge", "to"), ALLOWED, ids=[f"{s}-{e}" for (s, e), _ in ALLOWED])
def test_every_allowed_edge(account, people, edge, to):
    state, event = edge
    KillSwitch.objects.create(account=account, state=state)
    switch = switch_apply(account=account, event=event, by=people["rita"], reason="table test")
    assert switch.state == to and KillSwitch.objects.get(account=account).state == to
    ev = KillSwitchEvent.objects.get()
    assert (ev.event, ev.from_state, ev.to_state, ev.actor, ev.reason) == (
        event,
        state,
        to,
        people["rita"],
        "table test",
    )


@pytest.mark.parametrize(("state", "event"), REFUSED, ids=[f"{s}-{e}" for s, e in REFUSED])
def test_every_refused_edge_raises(account, people, state, event):
    KillSwitch.objects.create(account=account, state=state)
    with pytest.raises(TransitionError):
        switch_apply(account=account, event=event, by=people["rita"], reason="table test")
    assert KillSwitch.objects.get(account=account).state == state
    assert not KillSwitchEvent.objects.exists()


def test_a_reason_is_required(account, people):
    with pytest.raises(ValueError, match="reason"):
        switch_apply(account=account, event="stop", by=people["alice"], reason="  ")


def test_one_desk_row(db):
    from django.db import IntegrityError

    KillSwitch.objects.create(desk=True)
    with pytest.raises(IntegrityError):
        KillSwitch.objects.create(desk=True, state=State.STOPPED)
