"""System check `alerts`: the delivery settings (tradingsite/settings/alerts.py) are complete."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from .channels import LOG
from .models import Channel


@register("alerts")
def alert_settings_check(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    unknown = [c for c in settings.ALERT_CHANNELS if c not in {LOG, *Channel.values}]
    if unknown:
        errors.append(
            Error(
                f"ALERT_CHANNELS names unknown channels {unknown}; known: {Channel.values} (the log is always on)",
                id="alerts.E001",
            )
        )
    if Channel.EMAIL in settings.ALERT_CHANNELS and not settings.ALERT_EMAIL_RECIPIENTS:
        errors.append(Error("ALERT_CHANNELS has email but ALERT_EMAIL_RECIPIENTS is empty", id="alerts.E002"))
    if Channel.WEBHOOK in settings.ALERT_CHANNELS and not (
        settings.ALERT_WEBHOOK_URL and settings.ALERT_WEBHOOK_SECRET
    ):
        errors.append(
            Error(
                "ALERT_CHANNELS has webhook but ALERT_WEBHOOK_URL or ALERT_WEBHOOK_SECRET is empty",
                id="alerts.E003",
            )
        )
    if settings.ALERT_DELIVERY_MAX_ATTEMPTS < 1:
        errors.append(Error("ALERT_DELIVERY_MAX_ATTEMPTS must be at least 1", id="alerts.E004"))
    return errors
