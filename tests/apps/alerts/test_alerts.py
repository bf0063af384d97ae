"""Alert records: validation, dedup by key while unresolved, the status machine (open ->
acknowledged -> resolved, open -> resolved) with its event rows, permissions first, and the
selectors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.checks import run_checks
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.alerts import states
from apps.alerts.models import Alert, AlertDelivery, AlertEvent, AlertKind, AlertStatus
from apps.alerts.selectors import alerts_open, alerts_open_count, alerts_resolved_recent
from apps.alerts.services import alert_acknowledge, alert_raise, alert_resolve
from apps.core.statemachine import AppendOnlyError, TransitionError

pytestmark = pytest.mark.django_db


def _raise(**kw) -> Alert:
    args = {"kind": "stale_data", "severity": "warning", "message": "MSFT: no bar since 13:00"}
    args.update(kw)
    return alert_raise(**args)


def test_raise_records_the_alert_and_its_raise_event(account):
    alert = _raise(account=account, details={"symbol": "MSFT", "age_s": 7200}, dedup_key="stale:MSFT")
    alert.refresh_from_db()
    assert (alert.kind, alert.severity, alert.status, alert.count) == ("stale_data", "warning", "open", 1)
    assert alert.account == account and alert.details == {"symbol": "MSFT", "age_s": 7200}
    assert alert.raised_at == alert.last_seen
    assert list(alert.events.values_list("event", "from_status", "to_status", "actor")) == [
        ("raise", "", "open", None)
    ]


def test_details_may_carry_decimals_and_times():
    """Callers pass the desk's own values (reconciliation quantities are Decimal)."""
    at = dt.datetime(2025, 10, 1, 14, 0, tzinfo=dt.UTC)
    alert = _raise(details={"broker_qty": Decimal("100.5"), "bar": at})
    alert.refresh_from_db()
    assert alert.details == {"broker_qty": "100.5", "bar": "2025-10-01T14:00:00Z"}


def test_every_kind_of_the_issue_is_one_literal_enum():
    assert set(AlertKind.values) == {
        "kill_switch",
        "reconciliation_break",
        "circuit_breaker",
        "cycle_failed",
        "cycle_missed",
        "stale_data",
        "broker_disconnected",
    }


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"kind": "meltdown"}, "unknown alert kind 'meltdown'"),
        ({"severity": "loud"}, "unknown alert severity 'loud'"),
        ({"message": "  "}, "needs a message"),
        ({"dedup_key": "k" * 201}, "dedup key longer than 200"),
    ],
)
def test_bad_input_is_refused_by_name(kw, match):
    with pytest.raises(ValueError, match=match):
        _raise(**kw)
    assert not Alert.objects.exists()


def test_same_key_while_unresolved_bumps_count_and_last_seen(settings, people):
    settings.ALERT_CHANNELS = ["webhook"]
    settings.ALERT_WEBHOOK_URL, settings.ALERT_WEBHOOK_SECRET = "http://127.0.0.1:9/", "s"
    first = _raise(dedup_key="stale:MSFT", details={"age_s": 3600})
    Alert.objects.filter(pk=first.pk).update(last_seen=timezone.now() - dt.timedelta(minutes=5))
    again = _raise(
        dedup_key="stale:MSFT",
        severity="critical",
        message="MSFT: no bar since 12:00",
        details={"age_s": 7200},
    )
    assert again.pk == first.pk and again.count == 2
    assert again.last_seen > again.raised_at and again.severity == "critical"
    assert again.message == "MSFT: no bar since 12:00"
    # Not raised twice: one alert, one raise event, one delivery.
    assert Alert.objects.count() == 1 and AlertEvent.objects.count() == 1
    assert AlertDelivery.objects.count() == 1
    # A repeat at a lower severity and without details keeps the higher severity and the details.
    calmer = _raise(dedup_key="stale:MSFT", severity="info", message="MSFT: still no bar")
    assert calmer.count == 3 and calmer.severity == "critical" and calmer.details == {"age_s": 7200}
    # Acknowledged is still unresolved: it keeps counting.
    alert_acknowledge(alert=again, by=people["alice"])
    assert _raise(dedup_key="stale:MSFT").count == 4


def test_one_delivery_per_configured_channel(settings):
    settings.ALERT_CHANNELS = ["log", "email", "webhook", "email"]
    alert = _raise()
    assert sorted(alert.deliveries.values_list("channel", flat=True)) == ["email", "webhook"]


def test_after_resolve_the_same_key_opens_a_new_alert(people):
    first = _raise(dedup_key="stale:MSFT")
    alert_resolve(alert=first, by=people["rita"], reason="feed back")
    second = _raise(dedup_key="stale:MSFT")
    assert second.pk != first.pk and second.count == 1


def test_without_key_or_with_other_keys_alerts_are_separate():
    a, b = _raise(), _raise()
    c, d = _raise(dedup_key="stale:MSFT"), _raise(dedup_key="stale:AAPL")
    assert len({a.pk, b.pk, c.pk, d.pk}) == 4


def test_the_database_keeps_one_unresolved_alert_per_key():
    alert = _raise(dedup_key="k")
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(
            kind="stale_data", severity="info", message="x", dedup_key="k", raised_at=now, last_seen=now
        )
    Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.RESOLVED)
    Alert.objects.create(
        kind="stale_data", severity="info", message="x", dedup_key="k", raised_at=now, last_seen=now
    )


def test_a_raise_that_loses_the_insert_race_bumps_the_winner(monkeypatch):
    """Two raises of one new key at once: the second meets the unique constraint and bumps."""
    from apps.alerts.services import alerts as module

    winner = _raise(dedup_key="race")
    real_bump = module._bump
    calls = []

    def bump_that_first_sees_nothing(*args, **kwargs):
        calls.append(1)
        return None if len(calls) == 1 else real_bump(*args, **kwargs)

    monkeypatch.setattr(module, "_bump", bump_that_first_sees_nothing)
    loser = _raise(dedup_key="race")
    assert loser.pk == winner.pk and loser.count == 2 and Alert.objects.count() == 1


def test_open_acknowledged_resolved_with_events(people):
    alert = _raise()
    assert alert_acknowledge(alert=alert, by=people["alice"], reason="looking")
    assert alert.status == "acknowledged" and alert.acknowledged_by == people["alice"]
    assert alert_resolve(alert=alert, by=people["rita"], reason="feed restarted")
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_by == people["rita"]
    assert alert.resolution == "feed restarted" and alert.resolved_at is not None
    assert list(
        alert.events.values_list("event", "from_status", "to_status", "actor__username", "reason")
    ) == [
        ("raise", "", "open", None, ""),
        ("acknowledge", "open", "acknowledged", "alice", "looking"),
        ("resolve", "acknowledged", "resolved", "rita", "feed restarted"),
    ]


def test_open_to_resolved_directly_and_nothing_after_resolved(people):
    alert = _raise()
    assert alert_resolve(alert=alert, by=people["alice"], reason="false alarm")
    with pytest.raises(TransitionError, match="cannot take 'acknowledge'"):
        alert_acknowledge(alert=alert, by=people["alice"])
    with pytest.raises(TransitionError, match="cannot take 'resolve'"):
        alert_resolve(alert=alert, by=people["rita"], reason="again")
    assert states.ALERT_MACHINE.events_from("resolved") == []


def test_acknowledging_twice_is_refused(people):
    alert = _raise()
    alert_acknowledge(alert=alert, by=people["alice"])
    with pytest.raises(TransitionError):
        alert_acknowledge(alert=alert, by=people["rita"])


def test_a_stale_copy_loses_the_race_and_writes_nothing(people):
    alert = _raise()
    stale = Alert.objects.get(pk=alert.pk)
    assert alert_resolve(alert=alert, by=people["rita"], reason="done")
    assert alert_acknowledge(alert=stale, by=people["alice"]) is False
    assert Alert.objects.get(pk=alert.pk).status == "resolved"
    assert alert.events.filter(event="acknowledge").count() == 0


def test_resolve_needs_a_reason(people):
    alert = _raise()
    with pytest.raises(ValueError, match="needs a reason"):
        alert_resolve(alert=alert, by=people["rita"], reason=" ")
    assert Alert.objects.get(pk=alert.pk).status == "open"


@pytest.mark.parametrize("who", ["victor", "quinn", "bob", None])
def test_only_traders_risk_officers_and_admins_act(people, who):
    by = people[who] if who else None
    alert = _raise()
    with pytest.raises(PermissionDenied):
        alert_acknowledge(alert=alert, by=by)
    with pytest.raises(PermissionDenied):
        alert_resolve(alert=alert, by=by, reason="r")
    assert Alert.objects.get(pk=alert.pk).status == "open" and alert.events.count() == 1


@pytest.mark.parametrize("who", ["alice", "rita", "ada"])
def test_traders_risk_officers_and_admins_may_act(people, who):
    assert alert_acknowledge(alert=_raise(), by=people[who])
    assert alert_resolve(alert=_raise(), by=people[who], reason="handled")


def test_permission_is_checked_before_the_state(people):
    alert = _raise()
    alert_resolve(alert=alert, by=people["rita"], reason="done")
    with pytest.raises(PermissionDenied):  # not TransitionError: a viewer learns nothing
        alert_resolve(alert=alert, by=people["victor"], reason="again")


def test_events_are_append_only():
    event = _raise().events.get()
    event.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()


def test_selectors_open_by_severity_then_recency_and_by_account(people, account):
    info = _raise(severity="info", message="info")
    crit = _raise(severity="critical", message="crit", account=account)
    warn = _raise(severity="warning", message="warn")
    acked = _raise(severity="warning", message="acked later")
    alert_acknowledge(alert=acked, by=people["alice"])
    done = _raise(severity="critical", message="done")
    alert_resolve(alert=done, by=people["rita"], reason="ok")
    assert [a.pk for a in alerts_open()] == [crit.pk, acked.pk, warn.pk, info.pk]
    assert [a.pk for a in alerts_open(account=account)] == [crit.pk]
    assert alerts_open_count() == 4 and alerts_open_count(account=account) == 1
    assert [a.pk for a in alerts_resolved_recent()] == [done.pk]


@pytest.mark.parametrize(
    ("overrides", "error_id"),
    [
        ({"ALERT_CHANNELS": ["sms"]}, "alerts.E001"),
        ({"ALERT_CHANNELS": ["email"], "ALERT_EMAIL_RECIPIENTS": []}, "alerts.E002"),
        (
            {"ALERT_CHANNELS": ["webhook"], "ALERT_WEBHOOK_URL": "http://x/", "ALERT_WEBHOOK_SECRET": ""},
            "alerts.E003",
        ),
        ({"ALERT_DELIVERY_MAX_ATTEMPTS": 0}, "alerts.E004"),
    ],
)
def test_incomplete_delivery_settings_fail_the_system_check(settings, overrides, error_id):
    settings.ALERT_CHANNELS = ["log"]  # the log is always on and may be named
    assert not [e for e in run_checks(tags=["alerts"])]
    for name, value in overrides.items():
        setattr(settings, name, value)
    assert [e.id for e in run_checks(tags=["alerts"])] == [error_id]
