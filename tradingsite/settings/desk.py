"""Desk policy: the promotion gates (risk officers' bar; a strategy's config may only tighten it)."""

from .env import env

STRATEGY_GATES = {
    "min_sharpe": env.float("GATE_MIN_SHARPE", default=1.0),
    "max_drawdown": env.float("GATE_MAX_DRAWDOWN", default=0.20),
    "min_trades": env.int("GATE_MIN_TRADES", default=50),
    "min_paper_days": env.int("GATE_MIN_PAPER_DAYS", default=30),
    "max_tracking_error": env.float("GATE_MAX_TRACKING_ERROR", default=0.05),
}
