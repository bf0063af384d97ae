"""Search objectives: how a parameter-search candidate is scored from its backtest metrics. The one
table of objective names (the research app's model choices are built from it) and the scoring."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# name -> label shown to people. Higher scores are better for every objective.
OBJECTIVES: dict[str, str] = {"sharpe": "Sharpe", "calmar": "Calmar", "balanced": "balanced"}
CALMAR_CAP = 3.0  # in the balanced score, so a near-zero drawdown cannot dominate


def objective_score(metrics: Mapping[str, Any] | None, objective: str) -> float | None:
    """The score a candidate is ranked by (higher is better), from its selection-period metrics.

    balanced = 0.5 x Sharpe + 0.5 x min(Calmar, 3): rewards return per unit of volatility and per
    unit of worst loss together. A candidate that never traded, or whose score is undefined, gets
    None and is ranked last."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; expected one of {tuple(OBJECTIVES)}")
    if not metrics or not metrics.get("n_trades"):
        return None
    sharpe, calmar = metrics.get("sharpe"), metrics.get("calmar")
    if objective == "sharpe":
        value = sharpe
    elif objective == "calmar":
        value = calmar
    else:
        value = None if sharpe is None or calmar is None else 0.5 * sharpe + 0.5 * min(calmar, CALMAR_CAP)
    return float(value) if value is not None and math.isfinite(value) else None
