"""The convex program, built once per (universe, sector map, k) and re-solved every bar.

    maximise   a (alpha'w - cost'z - penalty * sum(e)) - b (||y||^2 + sum(d2 * w^2))
    subject to lb <= w <= ub                           (per-name pins, see bounds.py)
               z >= w - w0, z >= w0 - w                (z = |w - w0|, the trade size)
               y = X'w                                 (factor exposures)
               sum(w) <= exposure_cap
               e >= S w - soft_cap, e >= 0             (soft sector caps)
               S w <= hard_cap                         (hard sector caps; 1 when off)
               sum(z) <= turnover_cap                  (2 when off: never binds)
               || [y; sqrt(d2) * w] || <= vol_max / sqrt(ppy)  (SOC, conic solvers only)

with d2 = idio_var, and (a, b) = (1 / gamma, 1) for gamma >= 1, (1, gamma) below: the usual
"return - gamma * risk" up to a positive factor (same optimum), with risk aversion on the return
side in the common case. Why this form (measured on the real n = 500
problem, see bench/optimizer.py):
- the risk is factor form, ||X'w||^2 + sum(idio * w^2): O(N k) non-zeros, never a dense N x N;
- the risk side (X, idio) is loaded only when the risk model is refreshed (`set_risk`), and a
  vol-band search or a new bar only changes alpha, cost, bounds and caps (`set_bar`,
  `set_gamma`): those are the linear term and the constraint bounds of the solver's problem, so
  OSQP keeps its KKT factorisation and warm-starts, instead of refactorising every solve;
- the idiosyncratic term is written directly on w (sum(d2 * w^2)), which gives the solver a
  diagonal quadratic on w instead of an auxiliary variable per name;
- one variable per name (w) plus its trade size z: splitting trades into buy and sell variables
  doubled the dense loading rows and OSQP iterations;
- every parameter enters affinely (DPP): cvxpy canonicalises once and each solve only maps
  parameter values into the solver's matrices;
- sector membership is a sparse constant (fixed for a universe): a dense (g, N) Parameter would
  put g * N explicit zeros into the KKT matrix.
Names outside the universe are switched off by their bounds (ub = 0), never by changing shapes.

Scaling: per-bar returns, variances and weights are ~1e-3, ~1e-4 and ~1e-2, which leaves the
solvers badly scaled. The variables are weights in percent (`unit` = 100: every weight, trade,
cap and bound is O(1)) and the objective is multiplied by `objective_scale` (same optimum).
Measured on 24 real bars with OSQP at eps 1e-4: weights in units of 1 needed a median 1175
iterations and missed the tight-tolerance optimum by up to 1.2e-3 in weight; percent units cut
that to 825 iterations (CLARABEL: no change, ~20 iterations either way).
"""

from __future__ import annotations

import time
import warnings

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

DEFAULT_OBJECTIVE_SCALE = 1e3
WEIGHT_UNIT = 100.0


class PortfolioProblem:
    def __init__(
        self,
        *,
        sector_rows: np.ndarray,
        n_sector_rows: int,
        k: int,
        vol_constraint: bool,
        objective_scale: float | None = None,
        unit: float | None = None,
        sector_parameter: bool = False,
    ) -> None:
        n, g = len(sector_rows), n_sector_rows
        self.n, self.k, self.g = n, k, g
        self.vol_constraint = vol_constraint
        self.objective_scale = DEFAULT_OBJECTIVE_SCALE if objective_scale is None else objective_scale
        self.unit = WEIGHT_UNIT if unit is None else unit
        self.sector_rows = np.asarray(sector_rows).copy()
        self.sector = sp.csr_array((np.ones(n), (self.sector_rows, np.arange(n))), shape=(g, n))
        # Working-set slots hold different names every bar: their sector membership is a dense
        # (g, K) Parameter (g * K ~ 2k entries at K = 150) instead of a per-universe constant.
        self.membership: cp.Parameter | None = None
        if sector_parameter:
            self.membership = cp.Parameter((g, n), nonneg=True, name="sector_membership")
            self.membership.value = self.sector.toarray()
        self._alpha = np.zeros(n)
        self._cost = np.zeros(n)
        self._penalty = 0.0
        self.gamma = 1.0
        self._risk: tuple[np.ndarray, np.ndarray, float | None] | None = None
        self._risk_weight = 1.0
        # running totals for benches: solves, cvxpy's parameter mapping ("compilation"), time
        # inside the solver (its own clock), iterations
        self.stats = {"solves": 0, "compile_ms": 0.0, "solver_ms": 0.0, "iterations": 0}

        # return side, already divided by gamma and scaled
        self.alpha = cp.Parameter(n, name="alpha")
        self.cost = cp.Parameter(n, nonneg=True, name="cost")
        self.penalty = cp.Parameter(nonneg=True, name="sector_penalty")
        # risk side, loaded at a risk model refresh only
        self.loadings_t = cp.Parameter((k, n), name="loadings_t")
        self.idio_var = cp.Parameter(n, nonneg=True, name="idio_var")
        # per-bar bounds and caps
        self.w0 = cp.Parameter(n, nonneg=True, name="w0")
        self.lb = cp.Parameter(n, nonneg=True, name="lb")
        self.ub = cp.Parameter(n, nonneg=True, name="ub")
        self.soft_cap = cp.Parameter(g, nonneg=True, name="soft_cap")
        self.hard_cap = cp.Parameter(g, nonneg=True, name="hard_cap")
        self.exposure = cp.Parameter(nonneg=True, name="exposure_cap")
        self.turnover = cp.Parameter(nonneg=True, name="turnover_cap")

        # weights in `unit`s (percent by default), so the solvers' absolute tolerances are small
        # next to a weight: eps 1e-4 on a percent weight is 1e-6 of equity
        self.w = cp.Variable(n, name="w_units")
        self.trade = cp.Variable(n, name="trade_size")
        self.y = cp.Variable(k, name="y")
        self.excess = cp.Variable(g, nonneg=True, name="sector_excess")

        sector_w = (self.membership if sector_parameter else self.sector) @ self.w
        objective = cp.Maximize(
            self.alpha @ self.w
            - self.cost @ self.trade
            - self.penalty * cp.sum(self.excess)
            - cp.sum_squares(self.y)
            - cp.sum(cp.multiply(self.idio_var, cp.square(self.w)))
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
        self.constraints = constraints  # duals read by the working-set KKT check

    def set_membership(self, rows: np.ndarray, active: np.ndarray) -> None:
        """Slot i belongs to sector row `rows[i]` when `active[i]` (empty slots: no sector)."""
        if self.membership is None:
            raise ValueError("the problem was built with a constant sector map")
        m = np.zeros((self.g, self.n))
        idx = np.flatnonzero(active)
        m[rows[idx], idx] = 1.0
        self.membership.value = m

    def is_dpp(self) -> bool:
        return self.problem.is_dpp()

    def set_risk(self, *, loadings: np.ndarray, idio_var: np.ndarray, risk_budget: float | None) -> None:
        """Load a refreshed factor model: `loadings` (N, k), `idio_var` (N,) per bar, unscaled;
        `risk_budget` is the per-bar vol cap (required when built with the vol constraint)."""
        if self.vol_constraint and risk_budget is None:
            raise ValueError("the problem was built with a vol constraint: risk_budget is required")
        self._risk = (loadings, idio_var, risk_budget)
        self._load_risk(min(self.gamma, 1.0))

    def _load_risk(self, weight: float) -> None:
        loadings, idio_var, risk_budget = self._risk
        c = self.objective_scale * weight
        root, u = np.sqrt(c), self.unit
        self.loadings_t.value = (root / u) * loadings.T
        self.idio_var.value = (c / u**2) * idio_var
        if self.vol_constraint:
            self.idio_sd.value = (root / u) * np.sqrt(idio_var)
            self.risk_budget.value = root * risk_budget
        self._risk_weight = weight

    def set_bar(
        self,
        *,
        alpha: np.ndarray,
        w0: np.ndarray,
        lb: np.ndarray,
        ub: np.ndarray,
        cost: np.ndarray,
        gamma: float,
        soft_cap: float | None,
        penalty: float,
        hard_cap: float | None,
        exposure: float,
        turnover: float | None,
    ) -> None:
        """Load one bar's inputs (per-bar units; scaling and gamma are applied here)."""
        self._alpha, self._cost = alpha, cost
        self._penalty = penalty if soft_cap is not None else 0.0  # soft cap off: no penalty
        u = self.unit
        self.w0.value = u * w0
        self.lb.value = u * lb
        self.ub.value = u * ub
        # Hard cap off: 1 never binds (sum w <= exposure <= 1).
        self.soft_cap.value = np.full(self.g, u * (soft_cap if soft_cap is not None else 1.0))
        self.hard_cap.value = np.full(self.g, u * (hard_cap if hard_cap is not None else 1.0))
        self.exposure.value = u * exposure
        self.turnover.value = u * (turnover if turnover is not None else 2.0)  # sum |w - w0| <= 2 always
        self.set_gamma(gamma)

    def set_gamma(self, gamma: float) -> None:
        """Risk aversion. The objective is (return / gamma - risk) for gamma >= 1, so a larger
        gamma (the vol-cap search) only rescales the linear term and the solver's matrices stay
        put; for gamma < 1 (the vol-floor search) it is (return - gamma * risk), so no term grows
        like 1/gamma and the problem stays well scaled."""
        self.gamma = gamma
        weight = min(gamma, 1.0)
        if self._risk is not None and weight != self._risk_weight:
            self._load_risk(weight)
        scale = self.objective_scale / max(gamma, 1.0) / self.unit
        self.alpha.value = scale * self._alpha
        self.cost.value = scale * self._cost
        self.penalty.value = scale * self._penalty

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
        info = self.problem.solver_stats
        self.stats["solves"] += 1
        self.stats["compile_ms"] += 1000.0 * (self.problem.compilation_time or 0.0)
        self.stats["solver_ms"] += 1000.0 * (info.solve_time or 0.0) if info is not None else 0.0
        self.stats["iterations"] += (info.num_iters or 0) if info is not None else 0
        units = self.w.value
        w = None if units is None else np.asarray(units, dtype=np.float64) / self.unit
        return self.problem.status, w, ms
