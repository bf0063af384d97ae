"""Delivery after commit, through a real Celery worker on the default queue: the log, email via
Django's locmem backend, a signed webhook with exponential backoff and bounded attempts, each
attempt recorded; a rolled-back caller delivers nothing; a failing channel never hurts the caller."""

from __future__ import annotations

import hmac
import logging
import time

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from apps.alerts import channels
from apps.alerts.models import Alert, AlertDelivery, DeliveryAttempt, DeliveryStatus
from apps.alerts.services import alert_raise, backoff_s, deliveries_sweep, delivery_attempt
from apps.alerts.services import alerts as alerts_module
from apps.alerts.tasks import alert_deliver
from apps.trading.models import TradingAccount
from tests.support.waiting import wait_for

from .conftest import SECRET

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def webhook_settings(settings):
    def configure(receiver, *, attempts: int = 5, backoff: float = 0.2):
        settings.ALERT_CHANNELS = ["webhook"]
        settings.ALERT_WEBHOOK_URL = receiver.url
        settings.ALERT_WEBHOOK_SECRET = SECRET
        settings.ALERT_WEBHOOK_TIMEOUT_S = 5.0
        settings.ALERT_DELIVERY_MAX_ATTEMPTS = attempts
        settings.ALERT_DELIVERY_BACKOFF_S = backoff

    return configure


def _raise(account=None, **kw) -> Alert:
    args = {"kind": "reconciliation_break", "severity": "critical", "message": "AAPL: broker 100, desk 90"}
    args.update(kw)
    with transaction.atomic():
        return alert_raise(account=account, details={"symbol": "AAPL"}, **args)


def _finished(delivery_id: int) -> bool:
    return AlertDelivery.objects.get(pk=delivery_id).status != DeliveryStatus.PENDING


def test_webhook_fails_twice_then_delivers(worker, webhook, webhook_settings, account):
    receiver = webhook([500, 503, 200])
    webhook_settings(receiver, backoff=0.2)
    alert = _raise(account)
    delivery = AlertDelivery.objects.get(alert=alert)
    wait_for(lambda: _finished(delivery.pk))

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 3
    attempts = list(delivery.attempt_rows.values_list("number", "ok", "http_status"))
    assert attempts == [(1, False, 500), (2, False, 503), (3, True, 200)]
    assert len(receiver.received) == 3
    # Exponential backoff: at least 0.2 s, then at least 0.4 s between the attempts.
    gaps = [b.at - a.at for a, b in zip(receiver.received, receiver.received[1:], strict=False)]
    assert gaps[0] >= 0.18 and gaps[1] >= 0.38, gaps
    for request in receiver.received:  # signed, and the same delivery id every time
        assert hmac.compare_digest(
            request.headers[channels.SIGNATURE_HEADER], channels.signature(request.body, SECRET)
        )
        assert request.headers[channels.DELIVERY_HEADER] == str(delivery.pk)
    body = receiver.json_bodies()[-1]
    assert body["alert"]["kind"] == "reconciliation_break" and body["alert"]["account"] == "paper-1"
    assert body["alert"]["details"] == {"symbol": "AAPL"} and body["delivery"] == delivery.pk
    # The task is idempotent: the same message again sends nothing.
    assert alert_deliver.apply(args=[delivery.pk]).get() == "skipped"
    assert len(receiver.received) == 3 and delivery.attempt_rows.count() == 3


def test_webhook_that_never_succeeds_gives_up_after_the_bound(worker, webhook, webhook_settings):
    receiver = webhook([500])
    webhook_settings(receiver, attempts=4, backoff=0.05)
    alert = _raise(kind="broker_disconnected", severity="warning", message="alpaca stream dropped")
    delivery = AlertDelivery.objects.get(alert=alert)
    wait_for(lambda: _finished(delivery.pk))
    time.sleep(0.5)  # nothing more arrives after giving up

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.finished_at is not None
    assert list(delivery.attempt_rows.values_list("number", "ok")) == [(n, False) for n in (1, 2, 3, 4)]
    assert len(receiver.received) == 4
    assert alert_deliver.apply(args=[delivery.pk]).get() == "skipped"
    assert len(receiver.received) == 4


def test_unreachable_webhook_is_a_failed_attempt(webhook_settings, webhook):
    receiver = webhook([200])
    webhook_settings(receiver, attempts=1)
    receiver.url = "http://127.0.0.1:9/nothing-listens-here"
    webhook_settings(receiver, attempts=1)
    with transaction.atomic(), pytest.MonkeyPatch.context() as mp:
        mp.setattr(alerts_module, "delivery_enqueue", lambda delivery_id: None)  # no worker: attempt by hand
        alert = _raise()
    delivery = AlertDelivery.objects.get(alert=alert)
    assert delivery_attempt(delivery_id=delivery.pk).status == "failed"
    row = DeliveryAttempt.objects.get(delivery=delivery)
    assert not row.ok and row.http_status is None and "Connection" in row.error


def test_email_through_django_mail(worker, settings, account):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ALERT_CHANNELS = ["email"]
    settings.ALERT_EMAIL_RECIPIENTS = ["risk@desk.example", "oncall@desk.example"]
    alert = _raise(account, kind="kill_switch", severity="critical", message="paper-1 STOPPED by rita")
    delivery = AlertDelivery.objects.get(alert=alert)
    wait_for(lambda: _finished(delivery.pk))

    assert AlertDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["risk@desk.example", "oncall@desk.example"]
    assert message.subject == "[Hourglass] CRITICAL kill switch change [paper-1]: paper-1 STOPPED by rita"
    assert '"symbol": "AAPL"' in message.body


def test_rolled_back_raise_delivers_nothing(worker, settings, webhook, webhook_settings, people, caplog):
    receiver = webhook([200])
    webhook_settings(receiver)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ALERT_CHANNELS = ["email", "webhook"]
    settings.ALERT_EMAIL_RECIPIENTS = ["risk@desk.example"]
    caplog.set_level(logging.INFO, logger="apps.alerts")
    with pytest.raises(RuntimeError), transaction.atomic():
        alert_raise(kind="cycle_failed", severity="critical", message="cycle 14:00 failed")
        raise RuntimeError("the caller's transaction fails after raising the alert")
    # A committed raise afterwards proves the worker was there to deliver anything enqueued.
    later = _raise(kind="cycle_missed", severity="warning", message="no cycle for 15:00")
    wait_for(lambda: all(_finished(d.pk) for d in AlertDelivery.objects.filter(alert=later)))

    assert list(Alert.objects.values_list("kind", flat=True)) == ["cycle_missed"]
    assert [b["alert"]["kind"] for b in receiver.json_bodies()] == ["cycle_missed"]
    assert [m.subject for m in mail.outbox] == ["[Hourglass] WARNING missed cycle: no cycle for 15:00"]
    assert "cycle 14:00 failed" not in caplog.text and "no cycle for 15:00" in caplog.text


def test_log_line_only_after_commit(people, caplog):
    caplog.set_level(logging.INFO, logger="apps.alerts")
    with transaction.atomic():
        alert = alert_raise(kind="stale_data", severity="warning", message="MSFT: last bar 3 h old")
        assert "MSFT: last bar 3 h old" not in caplog.text
    assert f"alert #{alert.pk} raised warning stale_data: MSFT: last bar 3 h old" in caplog.text
    assert [r.levelno for r in caplog.records if r.name == "apps.alerts"] == [logging.WARNING]


def test_a_broken_broker_never_fails_or_undoes_the_callers_write(
    worker, settings, webhook, webhook_settings, people, caplog
):
    receiver = webhook([200])
    webhook_settings(receiver)

    def broker_down(delivery_id):
        raise ConnectionError("broker unreachable")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(alerts_module, "delivery_enqueue", broker_down)
        with transaction.atomic():
            TradingAccount.objects.create(
                name="caller-write",
                broker_kind="paper",
                endpoint="paper",
                starting_cash=1,
                created_by=people["ada"],
            )
            alert = alert_raise(kind="circuit_breaker", severity="critical", message="rejection streak 5")
    assert TradingAccount.objects.filter(name="caller-write").exists()
    delivery = AlertDelivery.objects.get(alert=alert)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0  # left for the sweep
    assert "broker unreachable" in caplog.text
    assert receiver.received == []
    # Beat's sweep sends the overdue delivery again once the broker is back.
    settings.ALERT_DELIVERY_SWEEP_GRACE_S = 0
    with transaction.atomic():
        assert deliveries_sweep() == [delivery.pk]
    wait_for(lambda: _finished(delivery.pk))
    assert AlertDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED
    assert len(receiver.received) == 1
    assert deliveries_sweep() == []


def test_a_duplicate_message_before_the_attempt_is_due_is_dropped(webhook, webhook_settings, people):
    receiver = webhook([500, 200])
    webhook_settings(receiver, backoff=30.0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(alerts_module, "delivery_enqueue", lambda delivery_id: None)
        alert = _raise()
    delivery = AlertDelivery.objects.get(alert=alert)
    outcome = delivery_attempt(delivery_id=delivery.pk)
    assert outcome.status == "retry" and outcome.retry_in_s == 30.0
    assert delivery_attempt(delivery_id=delivery.pk).status == "skipped"  # a copy, 30 s early
    assert len(receiver.received) == 1
    AlertDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())  # now due
    assert delivery_attempt(delivery_id=delivery.pk).status == "delivered"
    assert list(delivery.attempt_rows.values_list("number", "ok")) == [(1, False), (2, True)]


def test_attempts_left_are_kept_on_the_row(webhook, webhook_settings, people):
    """A worker lost after claiming the last attempt: the next copy of the task gives up instead of
    sending beyond the bound."""
    receiver = webhook([200])
    webhook_settings(receiver, attempts=2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(alerts_module, "delivery_enqueue", lambda delivery_id: None)
        alert = _raise()
    delivery = AlertDelivery.objects.get(alert=alert)
    AlertDelivery.objects.filter(pk=delivery.pk).update(attempts=2)
    assert delivery_attempt(delivery_id=delivery.pk).status == "failed"
    assert receiver.received == []
    assert AlertDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.FAILED
    assert DeliveryAttempt.objects.get(delivery=delivery).number == 2


def test_backoff_is_exponential_and_capped(settings):
    settings.ALERT_DELIVERY_BACKOFF_S = 2.0
    settings.ALERT_DELIVERY_BACKOFF_MAX_S = 10.0
    assert [backoff_s(n) for n in (1, 2, 3, 4, 5)] == [2.0, 4.0, 8.0, 10.0, 10.0]


def test_a_multi_line_message_still_makes_one_subject_line(settings, people):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ALERT_CHANNELS = ["email"]
    settings.ALERT_EMAIL_RECIPIENTS = ["risk@desk.example"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(alerts_module, "delivery_enqueue", lambda delivery_id: None)
        alert = _raise(message="AAPL: broker 100, desk 90\nMSFT: broker 5, desk 0")
    assert delivery_attempt(delivery_id=AlertDelivery.objects.get(alert=alert).pk).status == "delivered"
    assert mail.outbox[0].subject.endswith("AAPL: broker 100, desk 90 MSFT: broker 5, desk 0")
    assert "MSFT: broker 5, desk 0" in mail.outbox[0].body
