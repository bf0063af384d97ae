"""UNLOCK: risk officers only; with four-eyes a pending request that the same person cannot
confirm and a second risk officer can; any later action voids a pending request; a control trip
stops the account with its reason."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from apps.live.machine import State
from apps.live.models import KillSwitch, KillSwitchEvent
from apps.live.services import killswitch_stop, killswitch_trip, killswitch_unlock, pending_unlock
from apps.trading.models import ControlTrip
from apps.trading.services import KillSwitchTrip


@pytest.fixture
def stopped(people, account):
    return killswitch_stop(by=people["alice"], account=account, reason="runaway")


@pytest.mark.parametrize("name", ["alice", "victor", "quinn", "bob", "ada"])
def test_unlock_by_the_wrong_role_is_refused(people, account, stopped, name):
    with pytest.raises(PermissionDenied):
        killswitch_unlock(by=people[name], account=account, reason="let me")
    assert KillSwitch.objects.get(account=account).state == State.STOPPED


def test_four_eyes_the_same_person_cannot_confirm(people, account, stopped, rory, settings):
    settings.KILLSWITCH_UNLOCK_FOUR_EYES = True
    switch = killswitch_unlock(by=people["rita"], account=account, reason="checked the book")
    assert switch.state == State.STOPPED and pending_unlock(switch).actor == people["rita"]
    with pytest.raises(PermissionDenied, match="different risk officer"):
        killswitch_unlock(by=people["rita"], account=account, reason="me again")
    assert KillSwitch.objects.get(account=account).state == State.STOPPED
    switch = killswitch_unlock(by=rory, account=account, reason="confirmed")
    assert switch.state == State.ACTIVE
    ev = KillSwitchEvent.objects.filter(event="unlock").get()
    assert ev.actor == rory and ev.payload["requested_by"] == "rita"


def test_a_later_action_voids_the_request(people, account, stopped, rory, settings):
    settings.KILLSWITCH_UNLOCK_FOUR_EYES = True
    killswitch_unlock(by=people["rita"], account=account, reason="checked")
    killswitch_stop(by=people["alice"], account=account, reason="again")
    switch = killswitch_unlock(by=rory, account=account, reason="confirm?")
    assert switch.state == State.STOPPED and pending_unlock(switch).actor == rory  # a new request


def test_without_four_eyes_one_risk_officer_unlocks(people, account, stopped, settings):
    settings.KILLSWITCH_UNLOCK_FOUR_EYES = False
    assert killswitch_unlock(by=people["rita"], account=account, reason="ok").state == State.ACTIVE


def test_control_trip_stops_the_account_with_its_reason(account):
    row = ControlTrip.objects.create(account=account, reason_code="rejection_streak", detail="6 rejections")
    switch = killswitch_trip(trip=KillSwitchTrip(row, None))
    assert switch.state == State.STOPPED and switch.reason == "rejection_streak: 6 rejections"
    ev = KillSwitchEvent.objects.get()
    assert ev.actor is None and ev.event == "trip" and ev.payload["control_trip_id"] == row.pk
