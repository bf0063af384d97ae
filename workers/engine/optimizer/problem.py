"""The convex program, built once per (universe, sector map, k) and re-solved every bar.

It is written in trade space: the variables are buys b and sells s (w = w0 + b - s is never a
variable), so the turnover sum(b + s) is exact rather than accumulating the solver's tolerance on
N equality rows, and every parameter enters affinely (DPP):

    maximise   alpha'(b - s) - ||y||^2 - ||d * (b - s) + d * w0||^2 - cost'(b + s) - penalty * sum(e)
    subject to b, s >= 0
               lb - w0 <= b - s <= ub - w0              (per-name pins, see bounds.py)
               y = Xg'(b - s) + Xg'w0                  (factor exposures, Xg = sqrt(gamma) X)
               sum(b - s) <= exposure_cap - sum(w0)
               e >= S(b - s) + S w0 - soft_cap, e >= 0  (soft sector caps)
               S(b - s) + S w0 <= hard_cap             (hard sector caps; 1 when off)
               sum(b + s) <= turnover_cap              (2 when off: never binds)
               || [y; d * w] || <= sqrt(gamma) * vol_max / sqrt(ppy)   (SOC, conic solvers only)

Risk aversion gamma is folded into the loadings and the idiosyncratic vols (d = sqrt(gamma *
idio_var)), and products of two per-bar inputs (Xg'w0, d * w0, S w0) are computed in numpy and
passed as their own Parameters, so cvxpy canonicalises once and each bar only maps new parameter
values into the solver's matrices. Names outside the universe are switched off by their bounds,
never by changing the problem's shape.

The objective is multiplied by `objective_scale` (a positive constant: same optimum) because
per-bar returns and variances are ~1e-3 and ~1e-4, which leaves first-order solvers (OSQP)
badly scaled.
"""

from __future__ import annotations

import time
import warnings

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

DEFAULT_OBJECTIVE_SCALE = 1e3


class PortfolioProblem:
    def __init__(
        self,
        *,
        sector_rows: np.ndarray,
        n_sector_rows: int,
        k: int,
        vol_constraint: bool,
        objective_scale: float = DEFAULT_OBJECTIVE_SCALE,
    ) -> None:
        n, g = len(sector_rows), n_sector_rows
        self.n, self.k, self.g = n, k, g
        self.sector_rows = np.asarray(sector_rows).copy()
        self.vol_constraint = vol_constraint
        self.objective_scale = objective_scale
        self.alpha = cp.Parameter(n, name="alpha")
        self.cost = cp.Parameter(n, nonneg=True, name="cost")
        self.trade_lo = cp.Parameter(n, name="trade_lo")  # lb - w0
        self.trade_hi = cp.Parameter(n, name="trade_hi")  # ub - w0
        self.loadings_t = cp.Parameter((k, n), name="loadings_t")
        self.y0 = cp.Parameter(k, name="y0")  # Xg'w0
        self.idio_sd = cp.Parameter(n, nonneg=True, name="idio_sd")
        self.idio0 = cp.Parameter(n, nonneg=True, name="idio0")  # d * w0
        self.sector0 = cp.Parameter(g, nonneg=True, name="sector0")  # S w0
        self.soft_cap = cp.Parameter(g, nonneg=True, name="soft_cap")
        self.penalty = cp.Parameter(nonneg=True, name="sector_penalty")
        self.hard_cap = cp.Parameter(g, nonneg=True, name="hard_cap")
        self.exposure_room = cp.Parameter(name="exposure_room")  # exposure_cap - sum(w0)
        self.turnover = cp.Parameter(nonneg=True, name="turnover_cap")

        self.buy = cp.Variable(n, nonneg=True, name="buy")
        self.sell = cp.Variable(n, nonneg=True, name="sell")
        self.y = cp.Variable(k, name="y")
        self.excess = cp.Variable(g, nonneg=True, name="sector_excess")

        # Sector membership is fixed for a universe, so the one-hot matrix is a sparse constant
        # (a dense (g, n) Parameter would put g * n explicit zeros into the KKT matrix).
        self.sector = sp.csr_array((np.ones(n), (self.sector_rows, np.arange(n))), shape=(g, n))
        trade = self.buy - self.sell
        idio = cp.multiply(self.idio_sd, trade) + self.idio0
        sector_w = self.sector @ trade + self.sector0
        objective = cp.Maximize(
            self.alpha @ trade
            - cp.sum_squares(self.y)
            - cp.sum_squares(idio)
            - self.cost @ (self.buy + self.sell)
            - self.penalty * cp.sum(self.excess)
        )
        constraints = [
            trade >= self.trade_lo,
            trade <= self.trade_hi,
            self.y == self.loadings_t @ trade + self.y0,
            cp.sum(trade) <= self.exposure_room,
            self.excess >= sector_w - self.soft_cap,
            sector_w <= self.hard_cap,
            cp.sum(self.buy) + cp.sum(self.sell) <= self.turnover,
        ]
        if vol_constraint:
            self.risk_budget = cp.Parameter(nonneg=True, name="risk_budget")
            constraints.append(cp.SOC(self.risk_budget, cp.hstack([self.y, idio])))
        self.problem = cp.Problem(objective, constraints)
        self._w0 = np.zeros(n)

    def is_dpp(self) -> bool:
        return self.problem.is_dpp()

    def set_values(
        self,
        *,
        alpha: np.ndarray,
        w0: np.ndarray,
        lb: np.ndarray,
        ub: np.ndarray,
        cost: np.ndarray,
        loadings: np.ndarray,
        idio_var: np.ndarray,
        gamma: float,
        soft_cap: float | None,
        penalty: float,
        hard_cap: float | None,
        exposure: float,
        turnover: float | None,
        risk_budget: float | None = None,
    ) -> None:
        """Load one bar's inputs. `loadings` (N, k) and `idio_var` (N,) are the unscaled per-bar
        factor model; gamma scales them here. `risk_budget` is the per-bar vol cap (unscaled)."""
        c = self.objective_scale
        self._w0 = np.asarray(w0, dtype=np.float64)
        self.alpha.value = c * alpha
        self.cost.value = c * cost
        self.trade_lo.value = lb - w0
        self.trade_hi.value = ub - w0
        self.sector0.value = self.sector @ w0
        self.set_gamma(gamma, loadings=loadings, idio_var=idio_var, risk_budget=risk_budget)
        # Soft cap off: penalty 0. Hard cap off: 1 never binds (sum w <= exposure <= 1).
        self.soft_cap.value = np.full(self.g, soft_cap if soft_cap is not None else 1.0)
        self.penalty.value = c * penalty if soft_cap is not None else 0.0
        self.hard_cap.value = np.full(self.g, hard_cap if hard_cap is not None else 1.0)
        self.exposure_room.value = exposure - float(np.sum(w0))
        self.turnover.value = turnover if turnover is not None else 2.0  # sum |w - w0| <= 2 always

    def set_gamma(
        self, gamma: float, *, loadings: np.ndarray, idio_var: np.ndarray, risk_budget: float | None
    ) -> None:
        root = np.sqrt(gamma * self.objective_scale)
        self.loadings_t.value = root * loadings.T
        self.y0.value = self.loadings_t.value @ self._w0
        self.idio_sd.value = root * np.sqrt(idio_var)
        self.idio0.value = self.idio_sd.value * self._w0
        if self.vol_constraint:
            if risk_budget is None:
                raise ValueError("the problem was built with a vol constraint: risk_budget is required")
            self.risk_budget.value = root * risk_budget

    def solve(
        self, *, solver: str, options: dict, warm_start: bool = True
    ) -> tuple[str, np.ndarray | None, float]:
        """Solve; returns (status, target weights or None, wall ms). Solver exceptions propagate
        to the caller, which owns the fallback."""
        start = time.perf_counter()
        with warnings.catch_warnings():
            # cvxpy warns on "optimal_inaccurate"; the status is returned and judged by the caller.
            warnings.simplefilter("ignore", UserWarning)
            self.problem.solve(solver=solver, warm_start=warm_start, **options)
        ms = (time.perf_counter() - start) * 1000.0
        b, s = self.buy.value, self.sell.value
        if b is None or s is None:
            return self.problem.status, None, ms
        return (
            self.problem.status,
            self._w0 + np.asarray(b, dtype=np.float64) - np.asarray(s, dtype=np.float64),
            ms,
        )
