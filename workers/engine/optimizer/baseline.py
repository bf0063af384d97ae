"""`TopKEqualWeight`: the baseline every optimised strategy has to beat.

Equal weight min(max_weight, exposure_cap / k) in the k names with the highest alpha among those
that are tradable and have a view. It honours the same governor inputs as the optimizer: the
exposure cap, and allow_buys=False (sell-only: a name's weight can only fall, so names kept in the
top k are held at min(target, current) and everything else is sold).
"""

from __future__ import annotations

import time

import numpy as np

from ..allocation import AllocationContext, AllocationResult
from .bounds import validate_context


class TopKEqualWeight:
    def __init__(self, k: int, max_weight: float = 0.10) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if not (0 < max_weight <= 1):
            raise ValueError(f"max_weight must be in (0, 1], got {max_weight}")
        self.k = k
        self.max_weight = max_weight

    def allocate(self, ctx: AllocationContext) -> AllocationResult:
        start = time.perf_counter()
        n = validate_context(ctx)
        alpha = np.asarray(ctx.alpha, dtype=np.float64)
        w0 = np.clip(np.asarray(ctx.current_weights, dtype=np.float64), 0.0, None)
        eligible = np.asarray(ctx.tradable, dtype=bool) & np.isfinite(alpha)
        candidates = np.flatnonzero(eligible)
        # Highest alpha first; ties broken by index so the result is deterministic.
        order = candidates[np.lexsort((candidates, -alpha[candidates]))]
        chosen = order[: self.k]
        target = np.zeros(n)
        target[chosen] = min(self.max_weight, ctx.exposure_cap / self.k)
        if not ctx.allow_buys:
            target = np.minimum(target, w0)
        return AllocationResult(
            weights=target,
            status="baseline",
            solve_ms=(time.perf_counter() - start) * 1000.0,
            diagnostics={"n_holdings": int((target > 0).sum()), "n_eligible": int(eligible.sum())},
        )
