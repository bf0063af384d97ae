"""Every kill-switch change raises (or bumps) that switch's one open alert, delivered after commit;
a control trip is a circuit-breaker alert; an event that leaves the state as it was raises none."""

from __future__ import annotations

from apps.alerts.models import Alert, AlertKind, Severity
from apps.live.services import killswitch_cancel, killswitch_stop, killswitch_trip, killswitch_unlock
from apps.trading.models import ControlTrip
from apps.trading.services import KillSwitchTrip

from .brokers import InMemoryBroker


def test_stop_raises_a_critical_kill_switch_alert_for_the_account(people, account, settings):
    settings.KILLSWITCH_UNLOCK_FOUR_EYES = False
    killswitch_stop(by=people["alice"], account=account, reason="runaway model")
    alert = Alert.objects.get()
    assert (alert.kind, alert.severity, alert.account_id) == (
        AlertKind.KILL_SWITCH,
        Severity.CRITICAL,
        account.pk,
    )
    assert (
        "active -> stopped" in alert.message and "alice" in alert.message and "runaway model" in alert.message
    )
    killswitch_unlock(by=people["rita"], account=account, reason="model fixed")
    alert.refresh_from_db()
    assert Alert.objects.count() == 1 and alert.count == 2 and "stopped -> active" in alert.message


def test_a_control_trip_is_a_circuit_breaker_alert(account):
    row = ControlTrip.objects.create(account=account, reason_code="intraday_loss", detail="-3.1%")
    killswitch_trip(trip=KillSwitchTrip(row, None))
    alert = Alert.objects.get()
    assert alert.kind == AlertKind.CIRCUIT_BREAKER and "intraday_loss" in alert.message


def test_an_event_that_keeps_the_state_raises_no_alert(people, account):
    broker = InMemoryBroker()
    killswitch_cancel(by=people["alice"], account=account, broker_for=lambda a: broker, reason="clean up")
    assert not Alert.objects.exists()


def test_the_desk_switch_has_its_own_alert(people, db):
    killswitch_stop(by=people["rita"], account=None, reason="exchange outage")
    alert = Alert.objects.get()
    assert alert.account_id is None and "the desk" in alert.message
