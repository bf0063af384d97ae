"""Turning an `AllocationContext` into per-name bounds the convex problem can take.

Every rule that pins or restricts a name lives here, once, so the optimizer, the fallback and the
baseline agree on what a name may do at bar t:

- not tradable (not a member, or no bar at t): target 0 — the name must be sold;
- alpha NaN (no view), liquidity filter failed (price < min_price, ADV unknown or below
  min_adv_dollar), or the governor halted buys: sell-only, 0 <= w <= w0;
- every name: w <= max_weight (a drifted overweight is trimmed);
- per-name trade size: |w - w0| * equity <= max_participation * ADV, i.e. a buy cap and a sell
  cap. Hard caps win over the sell cap: a forced reduction (below max_weight, exit from the
  universe) is never blocked by liquidity, and the sell caps are dropped altogether when they
  would make the exposure or a hard sector cap unreachable;
- the turnover cap never blocks forced reductions: when those need more turnover than the cap,
  the effective cap is raised to what they need (recorded in the diagnostics).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..allocation import AllocationContext
from .config import OptimizerConfig


class AllocationInputError(ValueError):
    """An AllocationContext the allocator refuses, naming the field that is wrong."""


def validate_context(ctx: AllocationContext) -> int:
    """Check shapes and values; return N. Bad input is a caller bug, so it raises."""
    alpha = np.asarray(ctx.alpha)
    if alpha.ndim != 1:
        raise AllocationInputError(f"alpha must be a 1-D (N,) array, got shape {alpha.shape}")
    n = alpha.shape[0]
    for name in ("current_weights", "tradable", "price", "adv_dollar", "sector"):
        arr = np.asarray(getattr(ctx, name))
        if arr.shape != (n,):
            raise AllocationInputError(f"{name} must have shape ({n},) like alpha, got {arr.shape}")
    rw = np.asarray(ctx.returns_window)
    if rw.ndim != 2 or rw.shape[1] != n:
        raise AllocationInputError(f"returns_window must have shape (L, {n}), got {rw.shape}")
    w0 = np.asarray(ctx.current_weights, dtype=np.float64)
    if not np.isfinite(w0).all():
        raise AllocationInputError("current_weights contains NaN or infinite values")
    if (w0 < -1e-9).any():
        raise AllocationInputError(
            f"current_weights has negative entries (min {w0.min():.3g}); the book is long-only"
        )
    if np.isinf(alpha).any():
        raise AllocationInputError("alpha contains infinite values (use NaN for no view)")
    if not (0.0 <= ctx.exposure_cap <= 1.0):
        raise AllocationInputError(f"exposure_cap must be in [0, 1], got {ctx.exposure_cap}")
    if not (np.isfinite(ctx.equity) and ctx.equity > 0):
        raise AllocationInputError(f"equity must be a positive number, got {ctx.equity}")
    if ctx.periods_per_year <= 0:
        raise AllocationInputError(f"periods_per_year must be positive, got {ctx.periods_per_year}")
    return n


@dataclass(frozen=True)
class Bounds:
    lb: np.ndarray  # (N,)
    ub: np.ndarray  # (N,)
    w0: np.ndarray  # (N,) current weights, clipped at 0
    alpha: np.ndarray  # (N,) NaN replaced by 0 (those names are sell-only)
    sector_rows: np.ndarray  # (N,) row of each name in the sector matrix (unknown -> last row)
    n_sector_rows: int
    turnover_cap: float | None  # effective cap (>= forced turnover), None = no cap
    diagnostics: dict


def sector_rows(sector: np.ndarray) -> tuple[np.ndarray, int]:
    """Sector id -> matrix row; unknown (-1) names share one extra row, capped like a sector."""
    sector = np.asarray(sector, dtype=np.int64)
    n_known = int(sector.max()) + 1 if sector.size and sector.max() >= 0 else 0
    rows = np.where(sector >= 0, sector, n_known)
    return rows, n_known + 1


def sector_sums(weights: np.ndarray, rows: np.ndarray, n_rows: int) -> np.ndarray:
    return np.bincount(rows, weights=weights, minlength=n_rows)


def compute_bounds(ctx: AllocationContext, cfg: OptimizerConfig) -> Bounds:
    n = validate_context(ctx)
    w0 = np.clip(np.asarray(ctx.current_weights, dtype=np.float64), 0.0, None)
    alpha_raw = np.asarray(ctx.alpha, dtype=np.float64)
    tradable = np.asarray(ctx.tradable, dtype=bool)
    price = np.asarray(ctx.price, dtype=np.float64)
    adv = np.asarray(ctx.adv_dollar, dtype=np.float64)

    no_view = ~np.isfinite(alpha_raw)
    with np.errstate(invalid="ignore"):
        liquid = (
            np.isfinite(price) & (price >= cfg.min_price) & np.isfinite(adv) & (adv >= cfg.min_adv_dollar)
        )
    sell_only = no_view | ~liquid | (not ctx.allow_buys)
    max_trade = np.where(np.isfinite(adv), cfg.max_participation * np.nan_to_num(adv) / ctx.equity, 0.0)

    ub = np.full(n, cfg.max_weight)
    ub = np.where(sell_only, np.minimum(ub, w0), ub)
    ub = np.minimum(ub, w0 + max_trade)  # buy size limit
    ub = np.where(tradable, ub, 0.0)
    ub = np.clip(ub, 0.0, None)

    lb = np.clip(w0 - max_trade, 0.0, None)  # sell size limit
    lb = np.minimum(lb, ub)  # hard caps win over the sell limit
    rows, n_rows = sector_rows(ctx.sector)
    diag: dict = {}
    lb_conflict = lb.sum() > ctx.exposure_cap + 1e-12
    if cfg.sector_hard_cap is not None:
        lb_conflict |= bool((sector_sums(lb, rows, n_rows) > cfg.sector_hard_cap + 1e-12).any())
    if lb_conflict:
        lb = np.zeros(n)
        diag["sell_limits_dropped"] = "participation sell limits conflicted with exposure or sector hard caps"

    turnover_cap = cfg.max_turnover
    if turnover_cap is not None:
        kept = np.minimum(w0, ub)
        forced = float(np.sum(w0 - kept))
        excess = max(0.0, kept.sum() - ctx.exposure_cap)
        if cfg.sector_hard_cap is not None:
            excess = max(
                excess, float(np.clip(sector_sums(kept, rows, n_rows) - cfg.sector_hard_cap, 0, None).sum())
            )
        needed = forced + excess
        if needed > turnover_cap:
            diag["turnover_cap_relaxed"] = {"configured": turnover_cap, "forced": needed}
            turnover_cap = needed * (1 + 1e-6) + 1e-9
    diag["n_sell_only"] = int((sell_only & tradable).sum())
    diag["n_untradable_held"] = int((~tradable & (w0 > 0)).sum())
    return Bounds(
        lb=lb,
        ub=ub,
        w0=w0,
        alpha=np.where(no_view, 0.0, alpha_raw),
        sector_rows=rows,
        n_sector_rows=n_rows,
        turnover_cap=turnover_cap,
        diagnostics=diag,
    )


def hold_fallback(
    bounds: Bounds, exposure_cap: float, sector_hard_cap: float | None
) -> tuple[np.ndarray, bool]:
    """Hold current weights clipped to what is allowed (zero for names that must be sold, trimmed
    to max weight), then scale down to meet the sector hard caps and the exposure cap.
    Returns (weights, scaled)."""
    w = np.clip(bounds.w0, 0.0, bounds.ub)
    scaled = False
    if sector_hard_cap is not None:
        sums = sector_sums(w, bounds.sector_rows, bounds.n_sector_rows)
        over = sums > sector_hard_cap
        if over.any():
            factor = np.ones(bounds.n_sector_rows)
            factor[over] = sector_hard_cap / sums[over]
            w = w * factor[bounds.sector_rows]
            scaled = True
    total = w.sum()
    if total > exposure_cap:
        w = w * (exposure_cap / total)
        scaled = True
    return w, scaled
