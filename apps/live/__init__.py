"""The live desk. This session: the kill switch (per trading account and one desk-wide switch).

- `machine.KILLSWITCH_MACHINE`: the one literal (state, event) table, ACTIVE / STOPPED /
  FLATTENING / FLAT / HALTED, applied by `services.switch_apply` (exclusive switch lock,
  conditional update, append-only `models.KillSwitchEvent`: who, when, reason, from, to).
- Services (permission first; pages, REST API and `manage.py killswitch` call these):
  `killswitch_stop`, `killswitch_cancel`, `killswitch_flat` (stores a `models.FlatReport`),
  `killswitch_unlock` (risk officers; four-eyes when `settings.KILLSWITCH_UNLOCK_FOUR_EYES`);
  for the desk itself: `killswitch_trip(trip=KillSwitchTrip)` (the cycle catches the exception
  `orders_create` raises and calls it) and `killswitch_halt(account=, reason=)` (reconciliation).
  `account=None` means the desk-wide switch. CANCEL / FLAT take `broker_for(account) -> Broker`.
- Selector: `selectors.killswitch_effective(account=)` (the account's switch combined with the
  desk's).
- The submit path: `gate.refusal` (read by `orders_create`) and `gate.submit_gate` (held by
  `order_submit` around the broker call); `gate` documents the no-order-after-STOP guarantee.
"""
