"""The convex program, built once per (universe, sector map, k) and re-solved every bar.

    maximise   alpha'w - ||y||^2 - sum(d2 * w^2) - cost'z - penalty * sum(e)
    subject to lb <= w <= ub                           (per-name pins, see bounds.py)
               z >= w - w0, z >= w0 - w                (z = |w - w0|, the trade size)
               y = Xg'w                                (factor exposures, Xg = sqrt(gamma) X)
               sum(w) <= exposure_cap
               e >= S w - soft_cap, e >= 0             (soft sector caps)
               S w <= hard_cap                         (hard sector caps; 1 when off)
               sum(z) <= turnover_cap                  (2 when off: never binds)
               || [y; sqrt(d2) * w] || <= sqrt(gamma) * vol_max / sqrt(ppy)  (SOC, conic solvers only)

with d2 = gamma * idio_var. Why this form (measured on the real n = 500 problem):
- the risk is factor form, ||X'w||^2 + sum(idio * w^2): O(N k) non-zeros, never a dense N x N;
- the idiosyncratic term is written directly on w (sum(d2 * w^2)), which gives the solver a
  diagonal quadratic on w instead of an auxiliary variable per name: 2-3x fewer OSQP iterations
  than sum_squares(d * w), and faster with Clarabel too;
- one variable per name (w) plus its trade size z: splitting trades into buy and sell variables
  doubled the dense loading rows and OSQP iterations;
- gamma is folded into Xg and d2 so every parameter enters affinely (DPP): cvxpy canonicalises
  once and each bar only maps parameter values into the solver's matrices;
- sector membership is a sparse constant (fixed for a universe): a dense (g, N) Parameter would
  put g * N explicit zeros into the KKT matrix.
Names outside the universe are switched off by their bounds (ub = 0), never by changing shapes.

The objective is multiplied by `objective_scale` (a positive constant: same optimum) because
per-bar returns and variances are ~1e-3 and ~1e-4, which leaves the solvers badly scaled.
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
        self.vol_constraint = vol_constraint
        self.objective_scale = objective_scale
        self.sector_rows = np.asarray(sector_rows).copy()
        self.sector = sp.csr_array((np.ones(n), (self.sector_rows, np.arange(n))), shape=(g, n))

        self.alpha = cp.Parameter(n, name="alpha")
        self.w0 = cp.Parameter(n, nonneg=True, name="w0")
        self.lb = cp.Parameter(n, nonneg=True, name="lb")
        self.ub = cp.Parameter(n, nonneg=True, name="ub")
        self.cost = cp.Parameter(n, nonneg=True, name="cost")
        self.loadings_t = cp.Parameter((k, n), name="loadings_t")
        self.idio_var = cp.Parameter(n, nonneg=True, name="idio_var")  # gamma * idio variance
        self.soft_cap = cp.Parameter(g, nonneg=True, name="soft_cap")
        self.penalty = cp.Parameter(nonneg=True, name="sector_penalty")
        self.hard_cap = cp.Parameter(g, nonneg=True, name="hard_cap")
        self.exposure = cp.Parameter(nonneg=True, name="exposure_cap")
        self.turnover = cp.Parameter(nonneg=True, name="turnover_cap")

        self.w = cp.Variable(n, name="w")
        self.trade = cp.Variable(n, name="trade_size")
        self.y = cp.Variable(k, name="y")
        self.excess = cp.Variable(g, nonneg=True, name="sector_excess")

        sector_w = self.sector @ self.w
        objective = cp.Maximize(
            self.alpha @ self.w
            - cp.sum_squares(self.y)
            - cp.sum(cp.multiply(self.idio_var, cp.square(self.w)))
            - self.cost @ self.trade
            - self.penalty * cp.sum(self.excess)
        )
        constraints = [
            self.w >= self.lb,
            self.w <= self.ub,
            self.trade >= self.w - self.w0,
            self.trade >= self.w0 - self.w,
            self.y == self.loadings_t @ self.w,
            cp.sum(self.w) <= self.exposure,
            self.excess >= sector_w - self.soft_cap,
            sector_w <= self.hard_cap,
            cp.sum(self.trade) <= self.turnover,
        ]
        if vol_constraint:
            self.idio_sd = cp.Parameter(n, nonneg=True, name="idio_sd")
            self.risk_budget = cp.Parameter(nonneg=True, name="risk_budget")
            constraints.append(
                cp.SOC(self.risk_budget, cp.hstack([self.y, cp.multiply(self.idio_sd, self.w)]))
            )
        self.problem = cp.Problem(objective, constraints)

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
        self.alpha.value = c * alpha
        self.w0.value = w0
        self.lb.value = lb
        self.ub.value = ub
        self.cost.value = c * cost
        self.set_gamma(gamma, loadings=loadings, idio_var=idio_var, risk_budget=risk_budget)
        # Soft cap off: penalty 0. Hard cap off: 1 never binds (sum w <= exposure <= 1).
        self.soft_cap.value = np.full(self.g, soft_cap if soft_cap is not None else 1.0)
        self.penalty.value = c * penalty if soft_cap is not None else 0.0
        self.hard_cap.value = np.full(self.g, hard_cap if hard_cap is not None else 1.0)
        self.exposure.value = exposure
        self.turnover.value = turnover if turnover is not None else 2.0  # sum |w - w0| <= 2 always

    def set_gamma(
        self, gamma: float, *, loadings: np.ndarray, idio_var: np.ndarray, risk_budget: float | None
    ) -> None:
        scale = gamma * self.objective_scale
        root = np.sqrt(scale)
        self.loadings_t.value = root * loadings.T
        self.idio_var.value = scale * idio_var
        if self.vol_constraint:
            if risk_budget is None:
                raise ValueError("the problem was built with a vol constraint: risk_budget is required")
            self.idio_sd.value = root * np.sqrt(idio_var)
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
        w = self.w.value
        return self.problem.status, (None if w is None else np.asarray(w, dtype=np.float64)), ms
