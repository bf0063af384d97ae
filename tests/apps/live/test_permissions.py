"""Who may press what: traders STOP / CANCEL / FLAT, risk officers those and UNLOCK; viewers,
quants, approvers and admins nothing. Checked first: a refused press writes nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from apps.live.models import KillSwitchEvent
from apps.live.services import killswitch_cancel, killswitch_flat, killswitch_stop, killswitch_unlock

from .brokers import InMemoryBroker

ALLOWED = {
    "stop": {"alice", "rita"},
    "cancel": {"alice", "rita"},
    "flat": {"alice", "rita"},
    "unlock": {"rita"},
}
PEOPLE = ["victor", "alice", "quinn", "rita", "bob", "ada"]


def _press(action, user, account):
    broker = InMemoryBroker()
    if action == "stop":
        return killswitch_stop(by=user, account=account, reason="test")
    if action == "cancel":
        return killswitch_cancel(by=user, account=account, broker_for=lambda a: broker, reason="test")
    if action == "flat":
        return killswitch_flat(by=user, account=account, broker_for=lambda a: broker, reason="test")
    return killswitch_unlock(by=user, account=account, reason="test")


@pytest.mark.parametrize("desk", [False, True], ids=["account", "desk"])
@pytest.mark.parametrize("name", PEOPLE)
@pytest.mark.parametrize("action", sorted(ALLOWED))
def test_permission_per_role_and_action(people, account, action, name, desk):
    target = None if desk else account
    if action == "unlock":  # something to unlock
        killswitch_stop(by=people["rita"], account=target, reason="setup")
    before = KillSwitchEvent.objects.count()
    if name in ALLOWED[action]:
        _press(action, people[name], target)
        assert KillSwitchEvent.objects.count() > before
    else:
        with pytest.raises(PermissionDenied):
            _press(action, people[name], target)
        assert KillSwitchEvent.objects.count() == before


def test_the_desk_itself_may_not_press(account):
    with pytest.raises(PermissionDenied):
        killswitch_stop(by=None, account=account, reason="no person")
