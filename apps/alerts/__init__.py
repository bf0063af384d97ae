"""Alerts: records of what needs a person's attention, and their delivery (log, email, webhook).

Interfaces for the kill switch, reconciliation, the cycle, the feeds and the broker stream:

- `services.alert_raise(kind=, severity=, message=, account=None, details=None, dedup_key=None)`
  as the desk itself (no permission), from inside the caller's transaction. Kinds are
  `models.AlertKind` (kill_switch, reconciliation_break, circuit_breaker, cycle_failed,
  cycle_missed, stale_data, broker_disconnected), severities `models.Severity` (info, warning,
  critical). Pass a `dedup_key` for a condition that repeats (e.g. `f"stale:{account.pk}:{symbol}"`):
  while an alert with that key is unresolved, a raise bumps its `count` / `last_seen` instead of
  raising it again (a database constraint keeps one unresolved alert per key). Delivery happens
  after the caller commits and never fails or undoes the caller's write.
- `services.alert_acknowledge(alert=, by=, reason="")`, `services.alert_resolve(alert=, by=,
  reason=)`: people only (traders, risk officers, admins); through `states.ALERT_MACHINE`, each
  with an `AlertEvent` row. Both return False when someone else changed the alert first.
- `selectors.alerts_open(account=None)` / `alerts_open_count(account=None)` for the cockpit and
  health; `/alerts/` is the page.
- Channels: `tradingsite/settings/alerts.py` (ALERT_CHANNELS etc.); the log always; email and
  webhook through `tasks.alert_deliver` (default queue, exponential backoff, bounded attempts,
  each recorded as a `DeliveryAttempt`).
"""
