"""One decision bar, the code the backtest's bar loop and the live kernel both run: the
allocation context from data known at the close of bar t, the allocator's answer, and the
contract every target weight is held to (finite, long-only, members only, capped per name and in
gross by the governor's exposure cap) whatever the allocator returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..allocation import AllocationContext, AllocationResult, Allocator
from ..backtest.config import BacktestInputError
from ..panel import Panel


@dataclass(frozen=True)
class BarAllocation:
    weights: np.ndarray  # (N,) target weights after the contract (what the backtest records)
    result: AllocationResult  # the allocator's own answer (status, reason, diagnostics)
    context: AllocationContext


def allocation_context(
    *,
    panel: Panel,
    t: int,
    alpha_t: np.ndarray,
    positions: np.ndarray,
    equity: float,
    mark_t: np.ndarray,
    adv_dollar_t: np.ndarray,
    returns_window: np.ndarray,
    exposure_cap: float,
    allow_buys: bool,
) -> AllocationContext:
    """What the allocator may know at the close of bar t. `price` is the as-traded close (the
    level rules such as the minimum price need the price of the day, not one back-adjusted by
    splits that came later); weights use the close-marked positions."""
    return AllocationContext(
        t=t,
        alpha=alpha_t,
        current_weights=positions * mark_t / equity if equity > 0 else np.zeros(len(positions)),
        tradable=panel.member[t] & np.isfinite(panel.close[t]),
        price=panel.as_traded_close(t),
        adv_dollar=adv_dollar_t,
        returns_window=returns_window,
        sector=panel.sector,
        exposure_cap=exposure_cap,
        allow_buys=allow_buys,
        periods_per_year=panel.periods_per_year,
        equity=equity,
    )


def allocate_bar(
    allocator: Allocator, ctx: AllocationContext, *, member_t: np.ndarray, max_weight: float
) -> BarAllocation:
    """Ask the allocator and hold its answer to the contract: a buggy allocator cannot break the
    caps of the bar loop (the backtest) or of an order (live). `member_t`: members at t (a
    member without a bar at t keeps a capped weight; a non-member gets 0)."""
    res = allocator.allocate(ctx)
    return BarAllocation(
        weights=clean_weights(res.weights, ctx, member_t=member_t, max_weight=max_weight),
        result=res,
        context=ctx,
    )


def clean_weights(
    weights: np.ndarray, ctx: AllocationContext, *, member_t: np.ndarray, max_weight: float
) -> np.ndarray:
    n, t, cap = len(ctx.alpha), ctx.t, ctx.exposure_cap
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise BacktestInputError(f"allocator returned weights of shape {w.shape} at bar {t}, expected ({n},)")
    if not np.isfinite(w).all():
        raise BacktestInputError(f"allocator returned non-finite weights at bar {t}")
    if (w < -1e-9).any():
        raise BacktestInputError(f"allocator returned negative weights at bar {t} (long-only engine)")
    w = np.where(member_t, np.clip(w, 0.0, max_weight), 0.0)
    gross = w.sum()
    if gross > cap:
        w *= cap / gross
    return w
