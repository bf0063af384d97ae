"""System checks of the live desk's settings (`manage.py check`, run at every start): the cycle's
time limits must order as soft < hard < the broker's visibility timeout, or a running cycle could
be redelivered to a second worker (it would wait on the account lock, but its limit would be wrong)
or killed before it records why."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register()
def live_cycle_limits(app_configs=None, **kwargs) -> list[Error]:
    soft, hard = settings.LIVE_CYCLE_SOFT_TIME_LIMIT, settings.LIVE_CYCLE_TIME_LIMIT
    visibility = (getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}).get(
        "visibility_timeout", 3600
    )
    errors = []
    if not 0 < soft < hard:
        errors.append(
            Error(
                f"LIVE_CYCLE_SOFT_TIME_LIMIT ({soft}) must be positive and below LIVE_CYCLE_TIME_LIMIT ({hard})",
                id="live.E001",
            )
        )
    if hard >= visibility:
        errors.append(
            Error(
                f"LIVE_CYCLE_TIME_LIMIT ({hard} s) must be below the broker's visibility timeout ({visibility} s)",
                id="live.E002",
            )
        )
    if settings.LIVE_CLOCK not in ("wall", "replay"):
        errors.append(
            Error(f"LIVE_CLOCK must be 'wall' or 'replay', not {settings.LIVE_CLOCK!r}", id="live.E003")
        )
    return errors
