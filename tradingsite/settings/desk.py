"""Desk policy: the promotion gates (risk officers' bar; a strategy's config may only tighten it)."""

from .env import env

STRATEGY_GATES = {
    "min_sharpe": env.float("GATE_MIN_SHARPE", default=1.0),
    "max_drawdown": env.float("GATE_MAX_DRAWDOWN", default=0.20),
    "min_trades": env.int("GATE_MIN_TRADES", default=50),
    "min_paper_days": env.int("GATE_MIN_PAPER_DAYS", default=30),
    "max_tracking_error": env.float("GATE_MAX_TRACKING_ERROR", default=0.05),
    # Candidate backtests must be out of sample (`oos`: walk-forward learned models; a rule's
    # backtest reports in sample). Only the desk may waive it (the demo desk does, see
    # tradingsite/settings/demo.py); a strategy's own `gates` section cannot.
    "require_oos": env.bool("GATE_REQUIRE_OOS", default=True),
}

# Research jobs: a running backtest or training holds a lease for this many seconds, renewed by its
# worker every third of it; a run whose lease expired lost its worker and is re-queued or failed by
# the reaper (beat runs it every half lease) or by the redelivered task.
RESEARCH_JOB_LEASE_S = env.int("RESEARCH_JOB_LEASE_S", default=60)

# Evidence kinds beyond backtests (apps.strategies.evidence): paper trading summaries of the live desk.
STRATEGY_EVIDENCE_SOURCES = {"paper": "live.PaperEvidence"}
