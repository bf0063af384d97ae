"""Trading desk defaults: the pre-trade limits every account starts from (a risk officer tightens or
loosens them per account through `apps.trading.services.risk_limits_update`, audited) and the
in-flight rule for orders whose submission outcome is unknown. Each value is defined here once;
`apps.trading.controls.Limits` validates them (types and ranges) when they are read."""

from .env import env

TRADING_RISK_DEFAULTS = {
    "max_order_notional": env.str("TRADING_MAX_ORDER_NOTIONAL", default="250000"),  # base currency
    "max_order_qty": env.str("TRADING_MAX_ORDER_QTY", default="10000"),  # shares
    "max_orders_per_cycle": env.int("TRADING_MAX_ORDERS_PER_CYCLE", default=600),
    "max_notional_per_cycle": env.str("TRADING_MAX_NOTIONAL_PER_CYCLE", default="2000000"),
    "price_collar_bps": env.int("TRADING_PRICE_COLLAR_BPS", default=200),  # vs last trade/bar close
    "max_position_weight": env.str("TRADING_MAX_POSITION_WEIGHT", default="0.10"),  # of equity
    "restricted_symbols": env.list("TRADING_RESTRICTED_SYMBOLS", default=[]),
    "max_messages_per_minute": env.int("TRADING_MAX_MESSAGES_PER_MINUTE", default=180),  # Alpaca: 200
    "max_rejection_streak": env.int("TRADING_MAX_REJECTION_STREAK", default=5),
    "max_intraday_loss_pct": env.str("TRADING_MAX_INTRADAY_LOSS_PCT", default="0.03"),  # of day-start equity
}

# An order sent with an unknown outcome (timeout, 5xx) that the broker still does not know after
# this many seconds is concluded never to have landed (NautilusTrader's in-flight check: one
# targeted lookup before "not found" becomes terminal).
TRADING_IN_FLIGHT_NOT_FOUND_S = env.int("TRADING_IN_FLIGHT_NOT_FOUND_S", default=60)

# Kill switch (apps.live): UNLOCK needs a second, different risk officer to confirm when true.
KILLSWITCH_UNLOCK_FOUR_EYES = env.bool("KILLSWITCH_UNLOCK_FOUR_EYES", default=True)
# Dotted path of a callable `(TradingAccount) -> Broker` that `manage.py killswitch cancel|flat`
# and the cycle use to reach an account's broker.
TRADING_BROKER_FACTORY = env.str("TRADING_BROKER_FACTORY", default="apps.live.brokers.broker_for")

# The hourly cycle (apps.live.cycle). The desk's market clock: "wall" (live: the bar that closed
# last on the exchange calendar) or "replay" (the demo: LIVE_REPLAY_FILE's bars walked one every
# REPLAY_SECONDS_PER_BAR seconds of wall time, see apps.live.clock).
LIVE_CLOCK = env.str("LIVE_CLOCK", default="wall")
LIVE_REPLAY_FILE = env.str("LIVE_REPLAY_FILE", default="")
# Market days of history the cycle loads before its bar (features, the risk model's returns
# window and the volatility / ADV windows must fit; the kernel refuses too short a panel).
LIVE_PANEL_DAYS = env.int("LIVE_PANEL_DAYS", default=45)
# A run that fails is retried this many times in all (Celery retry with backoff), then stays failed.
LIVE_CYCLE_MAX_ATTEMPTS = env.int("LIVE_CYCLE_MAX_ATTEMPTS", default=3)
# Celery limits of one cycle: the soft limit raises inside it (the run records "failed: time
# limit"), the hard one kills the worker process. Both far below the broker's visibility timeout
# (CELERY_BROKER_TRANSPORT_OPTIONS), so a running cycle is never redelivered to a second worker.
LIVE_CYCLE_SOFT_TIME_LIMIT = env.int("LIVE_CYCLE_SOFT_TIME_LIMIT", default=240)
LIVE_CYCLE_TIME_LIMIT = env.int("LIVE_CYCLE_TIME_LIMIT", default=300)
# A bar close with no finished cycle this many seconds later raises a "missed cycle" alert.
LIVE_CYCLE_MISSED_AFTER_S = env.int("LIVE_CYCLE_MISSED_AFTER_S", default=600)
# Reconciliation: a position differing from the sum of fills by more than this many shares is a break.
RECONCILE_QTY_TOLERANCE = env.str("RECONCILE_QTY_TOLERANCE", default="0.000001")
# How far back reconciliation asks the broker for fills (seconds before the last reconciliation).
RECONCILE_FILLS_LOOKBACK_S = env.int("RECONCILE_FILLS_LOOKBACK_S", default=3 * 24 * 3600)
# Where the cycle's bars come from: "" (imports bring them: files, other processes), "replay"
# (LIVE_REPLAY_FILE through apps.trading.feeds.replay) or "alpaca" (Market Data v2 hourly bars).
LIVE_FEED = env.str("LIVE_FEED", default="")
