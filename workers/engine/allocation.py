"""The contract between the backtest / live loop and whatever turns signals into target weights.

The loop builds an `AllocationContext` at bar t from data known at t only and asks an `Allocator`
for target weights; the optimizer (cvxpy) and the top-k equal-weight baseline both implement it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .market import TRADING_DAYS_PER_YEAR


@dataclass(frozen=True)
class AllocationContext:
    t: int  # bar index of the decision (data known at the end of bar t)
    alpha: np.ndarray  # (N,) expected return / score; NaN = no view (never bought)
    current_weights: np.ndarray  # (N,) realised weights at the close of t
    tradable: np.ndarray  # (N,) bool: member at t with a bar at t
    price: np.ndarray  # (N,) close at t (NaN when no bar)
    adv_dollar: np.ndarray  # (N,) average dollar volume over past bars (NaN unknown)
    returns_window: np.ndarray  # (L, N) past bar returns ending at t, for risk estimation
    sector: np.ndarray  # (N,) int sector ids, -1 unknown
    exposure_cap: float = 1.0  # from the risk governor: max gross long exposure
    allow_buys: bool = True  # False when the governor halts new buys
    periods_per_year: int = TRADING_DAYS_PER_YEAR
    equity: float = 1.0  # portfolio value at t, for participation / liquidity limits


@dataclass(frozen=True)
class AllocationResult:
    weights: np.ndarray  # (N,) target weights, >= 0, sum <= exposure_cap
    status: str  # "optimal", "fallback_hold", "fallback_scaled", "baseline", ...
    reason: str = ""  # why a fallback was used (solver status / error text)
    solve_ms: float = 0.0
    diagnostics: dict = field(default_factory=dict)


class Allocator(Protocol):
    def allocate(self, ctx: AllocationContext) -> AllocationResult: ...
