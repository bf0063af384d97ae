"""Writes of the alerts app (keyword-only arguments; people's actions check permission first)."""

from .alerts import alert_acknowledge, alert_raise, alert_resolve
from .delivery import Outcome, backoff_s, deliveries_sweep, delivery_attempt

__all__ = [
    "Outcome",
    "alert_acknowledge",
    "alert_raise",
    "alert_resolve",
    "backoff_s",
    "deliveries_sweep",
    "delivery_attempt",
]
