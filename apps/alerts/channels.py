"""The delivery channels: the log (always, on commit), email through Django's mail, and a signed
JSON webhook. `configured()` names the task-delivered channels the settings switch on; `send()`
makes one attempt and raises `SendFailed` on any failure (the delivery service records it)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.core.mail import send_mail

from .models import Alert, AlertDelivery, Channel, Severity

log = logging.getLogger("apps.alerts")

LOG_LEVELS = {
    Severity.INFO: logging.INFO,
    Severity.WARNING: logging.WARNING,
    Severity.CRITICAL: logging.ERROR,
}
SIGNATURE_HEADER = "X-Hourglass-Signature"
DELIVERY_HEADER = "X-Hourglass-Delivery"  # the delivery id: lets a receiver drop a repeated POST


class SendFailed(Exception):  # noqa: N818 - the outcome of one attempt, recorded, then retried
    def __init__(self, error: str, *, http_status: int | None = None) -> None:
        super().__init__(error)
        self.http_status = http_status


LOG = "log"  # always on; may be named in ALERT_CHANNELS too


def configured() -> list[str]:
    """The channels in ALERT_CHANNELS besides the log (validated by the `alerts` system check)."""
    return [c for c in dict.fromkeys(settings.ALERT_CHANNELS) if c in Channel.values]  # each once


def log_alert(alert: Alert, *, repeat: bool) -> None:
    what = f"repeated (x{alert.count})" if repeat else "raised"
    log.log(
        LOG_LEVELS[alert.severity],
        "alert #%s %s %s %s%s: %s",
        alert.pk,
        what,
        alert.severity,
        alert.kind,
        f" account={alert.account_id}" if alert.account_id else "",
        alert.message,
    )


def payload(alert: Alert, delivery: AlertDelivery) -> dict[str, Any]:
    return {
        "delivery": delivery.pk,
        "alert": {
            "id": alert.pk,
            "kind": alert.kind,
            "severity": alert.severity,
            "status": alert.status,
            "account": alert.account.name if alert.account_id else None,
            "message": alert.message,
            "details": alert.details,
            "dedup_key": alert.dedup_key or None,
            "count": alert.count,
            "raised_at": alert.raised_at.isoformat(),
            "last_seen": alert.last_seen.isoformat(),
        },
    }


def signature(body: bytes, secret: str) -> str:
    """`sha256=<hex HMAC-SHA256 of the exact body bytes>` (GitHub's scheme)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send(alert: Alert, delivery: AlertDelivery) -> int | None:
    """One attempt over the delivery's channel; returns the webhook's HTTP status (None for email).
    Every failure, expected or not (a time limit, a bug in a template), is a SendFailed."""
    try:
        if delivery.channel == Channel.EMAIL:
            return _send_email(alert)
        return _send_webhook(alert, delivery)
    except SendFailed:
        raise
    except Exception as exc:
        raise SendFailed(f"{type(exc).__name__}: {exc}") from exc


def _send_email(alert: Alert) -> None:
    account = f" [{alert.account.name}]" if alert.account_id else ""
    subject = f"[Hourglass] {alert.severity.upper()} {alert.get_kind_display()}{account}: {alert.message}"
    body = "\n".join(
        [
            alert.message,
            "",
            f"kind: {alert.kind}",
            f"severity: {alert.severity}",
            f"account: {alert.account.name if alert.account_id else '-'}",
            f"raised at: {alert.raised_at.isoformat()} (seen {alert.count}x, last {alert.last_seen.isoformat()})",
            f"details: {json.dumps(alert.details, sort_keys=True, default=str)}",
        ]
    )
    subject = " ".join(subject.split())[:200]  # one header line: a newline would be refused
    send_mail(subject, body, None, settings.ALERT_EMAIL_RECIPIENTS, fail_silently=False)
    return None


def _send_webhook(alert: Alert, delivery: AlertDelivery) -> int:
    body = json.dumps(payload(alert, delivery), sort_keys=True, default=str).encode()
    request = urllib.request.Request(
        settings.ALERT_WEBHOOK_URL,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(body, settings.ALERT_WEBHOOK_SECRET),
            DELIVERY_HEADER: str(delivery.pk),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.ALERT_WEBHOOK_TIMEOUT_S) as response:
            return response.status
    except urllib.error.HTTPError as exc:  # urllib raises for every status >= 400
        raise SendFailed(f"HTTP {exc.code} {exc.reason}", http_status=exc.code) from exc
    except (OSError, ValueError) as exc:  # refused, reset, timeout, bad URL
        raise SendFailed(f"{type(exc).__name__}: {exc}") from exc
