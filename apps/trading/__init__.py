"""The trading desk's state and order path: accounts, the model version each trades, orders,
fills, order events, per-account risk limits, and the pre-trade controls.

Interfaces for the live cycle, reconciliation and the kill switch (next session):

- `services.order_create(...)` runs the controls under the account's row lock and commits the
  order as `pending_new` or `rejected` with `reason_code` (refusals per cycle:
  `selectors.refusals_by_cycle`). Idempotent per (account, bar_time, symbol, side) through the
  deterministic `orders.client_order_id`. Raises `services.KillSwitchTrip` after commit when a
  rejection streak or the intraday loss says stop (the `models.ControlTrip` row is the record).
- `services.order_submit(order=, broker=)` outside any transaction; `order_resolve_in_flight`
  for orders left `submitted` (by client order id); `order_report_apply` for every
  `BrokerOrder` / `OrderEventReport` (stream, REST poll, reconciliation); `fill_record`
  (idempotent per account and execution id).
- `Order.cycle` is the live.CycleRun that produced the order (null for the kill switch's).
- Positions and cash: `selectors.account_book` (from fills, `ledger.book_from_fills`).
- `controls.py` and `ledger.py` are pure (no Django); `orders.py` holds the one order table.
"""
