"""The simulated venue behind the paper broker: its books in the database, its fills the backtest's.

Interfaces for the live cycle (next session):

- `services.venue_account_create(name=, cash=, backtest=)`: one venue account per paper trading
  account; pass the strategy's `workers.engine.decide.configs.backtest_config(config)` so the
  venue fills with the backtest's cost model, participation cap and share rounding.
- `apps.trading.brokers.paper.PaperBroker(venue_account, clock=)`: the broker interface over it;
  `clock` is the wall clock live, the replay's market clock in the demo.
- `services.paper_venue_advance(venue_account=, up_to=)` (or `PaperBroker.advance`): fill the open
  orders over the bars known by `up_to`, at each bar's open; call it after the feed has delivered
  the bar close, before reconciling (`fills_since` then reports the new fills). Idempotent.
- Refusals raise `OrderRejected` with `services.orders.Reject` codes; a duplicate client order id
  raises `DuplicateClientOrderId`; nothing else of the venue raises `OutcomeUnknown`.
"""
