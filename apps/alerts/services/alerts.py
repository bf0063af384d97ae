"""Raising, acknowledging and resolving alerts.

`alert_raise` is called by other services inside their own transactions (the kill switch,
reconciliation, the cycle, the data feeds, the broker stream). It writes the alert (or bumps the
unresolved alert with the same dedup key) and one pending AlertDelivery per configured channel in
the caller's transaction; the log line and the delivery tasks go out only after that transaction
commits (`transaction.on_commit(robust=True)`), so a rolled-back caller delivers nothing, and a
failing channel, broker or logger never fails or undoes the caller's write.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.alerts import channels, permissions
from apps.alerts.models import (
    DEDUP_KEY_MAX,
    SEVERITY_RANK,
    UNRESOLVED,
    Alert,
    AlertDelivery,
    AlertEvent,
    AlertKind,
    Severity,
)
from apps.alerts.states import ALERT_MACHINE

from .delivery import delivery_enqueue


def alert_raise(
    *,
    kind: str,
    severity: str,
    message: str,
    account=None,
    details: dict[str, Any] | None = None,
    dedup_key: str | None = None,
) -> Alert:
    """Raise an alert as the desk itself (no person, no permission). With a `dedup_key` that an
    unresolved alert already carries, that alert's count and last_seen are bumped, its message
    becomes the latest raise's (its details too, when the raise passes any), its severity the
    higher of the two, and nothing is delivered again."""
    if kind not in AlertKind.values:
        raise ValueError(f"unknown alert kind {kind!r}; known: {AlertKind.values}")
    if severity not in Severity.values:
        raise ValueError(f"unknown alert severity {severity!r}; known: {Severity.values}")
    message = (message or "").strip()
    if not message:
        raise ValueError("an alert needs a message")
    if dedup_key and len(dedup_key) > DEDUP_KEY_MAX:
        raise ValueError(f"dedup key longer than {DEDUP_KEY_MAX} characters: {dedup_key[:40]!r}...")
    details = None if details is None else dict(details)
    now = timezone.now()
    with transaction.atomic():
        alert = _bump(dedup_key, severity=severity, message=message, details=details, now=now)
        if alert is None:
            try:
                with transaction.atomic():  # a concurrent raise of the same key may win the insert
                    alert = _create(kind, severity, message, account, details or {}, dedup_key or "", now)
            except IntegrityError:
                alert = _bump(dedup_key, severity=severity, message=message, details=details, now=now)
                if alert is None:
                    raise
    transaction.on_commit(lambda: _after_commit(alert.pk, repeat=alert.count > 1), robust=True)
    return alert


def _bump(dedup_key, *, severity, message, details, now) -> Alert | None:
    if not dedup_key:
        return None
    alert = Alert.objects.select_for_update().filter(dedup_key=dedup_key, status__in=UNRESOLVED).first()
    if alert is None:
        return None
    severity = max(severity, alert.severity, key=SEVERITY_RANK.__getitem__)
    latest = {"severity": severity, "message": message} | ({} if details is None else {"details": details})
    Alert.objects.filter(pk=alert.pk).update(count=F("count") + 1, last_seen=now, **latest)
    alert.refresh_from_db()
    return alert


def _create(kind, severity, message, account, details, dedup_key, now) -> Alert:
    alert = Alert.objects.create(
        kind=kind,
        severity=severity,
        account=account,
        message=message,
        details=details,
        dedup_key=dedup_key,
        raised_at=now,
        last_seen=now,
    )
    AlertEvent.objects.create(alert=alert, event="raise", to_status=alert.status, actor=None)
    AlertDelivery.objects.bulk_create(AlertDelivery(alert=alert, channel=c) for c in channels.configured())
    return alert


def _after_commit(alert_id: int, *, repeat: bool) -> None:
    """Log the alert and enqueue its pending deliveries (the caller's write is already committed)."""
    alert = Alert.objects.select_related("account").get(pk=alert_id)
    channels.log_alert(alert, repeat=repeat)
    if repeat:
        return
    for delivery_id in alert.deliveries.filter(attempts=0).values_list("pk", flat=True):
        delivery_enqueue(delivery_id)


def _transition(alert: Alert, event: str, *, by, reason: str, **fields) -> bool:
    def record(from_status: str, to_status: str) -> None:
        AlertEvent.objects.create(
            alert=alert, event=event, from_status=from_status, to_status=to_status, actor=by, reason=reason
        )

    return ALERT_MACHINE.apply(alert, event, record=record, **fields)


def alert_acknowledge(*, alert: Alert, by, reason: str = "") -> bool:
    """Someone is on it. Returns False when another person changed the alert first."""
    permissions.require(by, permissions.ACKNOWLEDGE, "acknowledge alerts")
    return _transition(
        alert,
        "acknowledge",
        by=by,
        reason=(reason or "").strip(),
        acknowledged_by=by,
        acknowledged_at=timezone.now(),
    )


def alert_resolve(*, alert: Alert, by, reason: str) -> bool:
    """Close the alert with the resolver's reason (required). Returns False when another person
    changed the alert first. A later raise with the same dedup key opens a new alert."""
    permissions.require(by, permissions.RESOLVE, "resolve alerts")
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("resolving an alert needs a reason")
    return _transition(
        alert, "resolve", by=by, reason=reason, resolved_by=by, resolved_at=timezone.now(), resolution=reason
    )
