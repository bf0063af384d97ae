"""`OptimizerAllocator`: the cvxpy mean-variance allocator behind the `Allocator` contract.

One DPP problem is built on the first bar (and again only if N or the sector map changes) and
re-solved with warm start each rebalance. A failed solve never raises out of `allocate`: the
result is the hold fallback (current weights clipped to what is allowed, scaled to the caps) with
the solver status or exception text in `status` / `reason`.

Working set (`OptimizerConfig.working_set`, see working_set.py): the same problem solved on K
names and certified optimal for all N by a KKT check on the duals, else the full problem.

Volatility band (annualised ex-ante, sqrt(w' Sigma w * periods_per_year)):
- upper bound: with a conic solver (CLARABEL, SCS, ECOS) it is a SOC constraint of the problem.
  With OSQP (a QP solver) it is met by a search on risk aversion: raising gamma lowers ex-ante
  vol monotonically, and the constrained optimum is exactly the unconstrained one at
  gamma + lambda (lambda the constraint's multiplier), so searching gamma until vol lands just
  under the cap recovers it to the search tolerance (within 2% under the cap). Each step is a warm
  re-solve, and the search starts from the previous bar's gamma. If even the largest gamma tried
  leaves vol above the cap (forced holdings), the result says so in
  diagnostics["vol_max_unattained"]; with the SOC form the same case is infeasible -> fallback.
- lower bound: non-convex, never a constraint. When vol is below it, the same search lowers
  gamma (takes more risk for the same alpha) down to 1e-4 x the configured gamma; if caps or weak
  alpha still keep vol below the band (long-only, no leverage: scaling up is impossible), the
  result says so in diagnostics["vol_below_min"].
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..allocation import AllocationContext, AllocationResult
from .bounds import Bounds, compute_bounds, hold_fallback, sector_sums
from .config import OptimizerConfig
from .problem import PortfolioProblem
from .risk_model import FactorRiskModel, estimate_factor_model
from .working_set import WorkingSetProblem

ACCEPTED_STATUSES = ("optimal", "optimal_inaccurate")
FEASIBILITY_TOL = 1e-4  # accepted violation of turnover / sector caps after repair
VOL_TOL = 1e-3  # relative tolerance on the vol band
VOL_SEARCH_EDGE = 0.02  # the upper search stops once vol is within 2% under the cap
MIN_GAMMA_FRACTION = 1e-4
VOL_STALL = 0.01  # a lower-band step that raises vol by less than 1% ends the search


class SolveFailed(RuntimeError):
    """The solver returned no usable solution; the message is the reason recorded."""


class OptimizerAllocator:
    def __init__(self, config: OptimizerConfig | None = None) -> None:
        self.config = config or OptimizerConfig()
        self._problem: PortfolioProblem | WorkingSetProblem | None = None
        self._gamma_hint: float | None = None  # last bar's vol-search answer: where the next starts
        self.builds = 0  # how many times the problem was (re)built, for tests and benches
        self.retries = 0  # solves retried with the solver's default settings
        self.risk_fits = 0  # factor model estimations (one per `risk_model_every` bars)
        self._model: FactorRiskModel | None = None
        self._model_t: int | None = None  # ctx.t of the bar the model was fitted at
        self._model_key: tuple[int, int] | None = None  # (N, periods_per_year) it was fitted for
        self._risk_loaded: FactorRiskModel | None = None  # the model whose values the problem holds

    def problem_for(self, bounds: Bounds) -> PortfolioProblem | WorkingSetProblem:
        """The cached problem, rebuilt only when the universe size or the sector map changes."""
        p = self._problem
        vol_constraint = self.config.vol_as_constraint
        size = self.config.working_set
        if size is not None and size >= len(bounds.sector_rows):
            size = None  # the working set would be every name: the full problem, without the check
        same = (
            p is not None
            and p.vol_constraint == vol_constraint
            and p.g == bounds.n_sector_rows
            and np.array_equal(p.sector_rows, bounds.sector_rows)
            and getattr(p, "size", None) == size
        )
        if not same:
            common = dict(
                sector_rows=bounds.sector_rows,
                n_sector_rows=bounds.n_sector_rows,
                k=self.config.n_factors,
                vol_constraint=vol_constraint,
            )
            p = WorkingSetProblem(**common, size=size) if size is not None else PortfolioProblem(**common)
            self._problem = p
            self.builds += 1
        return p

    def allocate(self, ctx: AllocationContext) -> AllocationResult:
        start = time.perf_counter()
        bounds = compute_bounds(ctx, self.config)  # bad input raises: a caller bug, not a solve failure
        try:
            weights, status, diag = self._optimise(ctx, bounds)
        except Exception as exc:  # noqa: BLE001 - a solve must never crash a backtest or live cycle
            reason = str(exc) if isinstance(exc, SolveFailed) else f"{type(exc).__name__}: {exc}"
            return self._fallback(ctx, bounds, reason=reason, start=start)
        diag.update(bounds.diagnostics)
        return AllocationResult(
            weights=weights,
            status=status,
            solve_ms=(time.perf_counter() - start) * 1000.0,
            diagnostics=diag,
        )

    def _fallback(
        self, ctx: AllocationContext, bounds: Bounds, *, reason: str, start: float
    ) -> AllocationResult:
        weights, scaled = hold_fallback(bounds, ctx.exposure_cap, self.config.sector_hard_cap)
        return AllocationResult(
            weights=weights,
            status="fallback_scaled" if scaled else "fallback_hold",
            reason=reason,
            solve_ms=(time.perf_counter() - start) * 1000.0,
            diagnostics=dict(bounds.diagnostics),
        )

    def risk_model_for(self, ctx: AllocationContext) -> tuple[FactorRiskModel, bool]:
        """The factor model for bar `ctx.t`: re-estimated from `ctx.returns_window` (past bars
        only) every `risk_model_every` bars, otherwise the model of the last refresh — fitted on
        data up to that earlier bar, never later. The same bar again, a bar before the last fit (a new run), another
        universe size or another bar frequency always re-estimates. Returns (model, refreshed)."""
        cfg = self.config
        n = np.asarray(ctx.alpha).shape[0]
        key = (n, ctx.periods_per_year)
        if (
            self._model is not None
            and self._model_key == key
            and self._model_t is not None
            and 0 < ctx.t - self._model_t < cfg.risk_model_every
        ):
            return self._model, False
        model = estimate_factor_model(
            ctx.returns_window,
            n_factors=cfg.n_factors,
            min_obs=cfg.min_obs,
            default_idio_vol=cfg.default_idio_vol,
            periods_per_year=ctx.periods_per_year,
        )
        self._model, self._model_t, self._model_key = model, ctx.t, key
        self.risk_fits += 1
        return model, True

    def _optimise(self, ctx: AllocationContext, bounds: Bounds) -> tuple[np.ndarray, str, dict]:
        cfg = self.config
        t_risk = time.perf_counter()
        model, refreshed = self.risk_model_for(ctx)
        risk_ms = (time.perf_counter() - t_risk) * 1000.0
        builds = self.builds
        problem = self.problem_for(bounds)
        per_bar = math.sqrt(ctx.periods_per_year)
        risk_budget = cfg.vol_max / per_bar if cfg.vol_max is not None else None
        if refreshed or self.builds != builds or self._risk_loaded is not model:
            problem.set_risk(loadings=model.exposures, idio_var=model.idio_var, risk_budget=risk_budget)
            self._risk_loaded = model
        problem.set_bar(
            alpha=bounds.alpha,
            w0=bounds.w0,
            lb=bounds.lb,
            ub=bounds.ub,
            cost=np.full(bounds.w0.shape[0], cfg.cost_bps * 1e-4),
            gamma=cfg.risk_aversion,
            soft_cap=cfg.sector_soft_cap,
            penalty=cfg.sector_penalty,
            hard_cap=cfg.sector_hard_cap,
            exposure=ctx.exposure_cap,
            turnover=bounds.turnover_cap,
        )
        search = _VolSearch(self, problem, model, bounds, ctx)
        weights, status, diag = search.run(self._gamma_hint)
        self._gamma_hint = diag["gamma"] if diag["gamma"] > cfg.risk_aversion else None
        if isinstance(problem, WorkingSetProblem):
            diag.update(problem.info.get(diag["gamma"], {}))
        self._check_feasible(weights, bounds, ctx)
        diag.update(
            {
                "ex_ante_vol": model.vol(weights, ctx.periods_per_year),
                "turnover": float(np.abs(weights - bounds.w0).sum()),
                "exposure": float(weights.sum()),
                "n_holdings": int((weights > 0).sum()),
                "risk_shrinkage": model.shrinkage,
                "risk_ms": risk_ms,
                "risk_refreshed": refreshed,
                "risk_model_t": self._model_t,
                "n_risk_estimated": int(model.estimated.sum()),
                "solver": cfg.solver,
                "vol_constraint": problem.vol_constraint,
            }
        )
        return weights, status, diag

    def solve_once(
        self, problem: PortfolioProblem, bounds: Bounds, ctx: AllocationContext
    ) -> tuple[str, np.ndarray, float]:
        """One solve with the tuned options; if that is not cleanly optimal, one retry with the
        solver's defaults (OSQP: more iterations). An "optimal_inaccurate" answer is used only
        when the retry does no better. Raises SolveFailed when no attempt gives a usable solution."""
        attempts = [self.config.options()]
        retry = self.config.retry_options()
        if retry is not None:
            attempts.append(retry)
        total_ms, failures = 0.0, []
        inaccurate: np.ndarray | None = None
        for i, options in enumerate(attempts):
            self.retries += i > 0
            try:
                status, w, ms = problem.solve(solver=self.config.solver, options=options)
            except Exception as exc:  # noqa: BLE001 - recorded, then retried or turned into a fallback
                failures.append(f"{type(exc).__name__}: {exc}")
                continue
            total_ms += ms
            usable = w is not None and np.isfinite(w).all()
            if status == "optimal" and usable:
                return status, self.repair(w, bounds, ctx.exposure_cap), total_ms
            if status in ACCEPTED_STATUSES and usable and inaccurate is None:
                inaccurate = w
            failures.append(f"solver {self.config.solver} returned status {status!r}")
        if inaccurate is not None:
            return "optimal_inaccurate", self.repair(inaccurate, bounds, ctx.exposure_cap), total_ms
        raise SolveFailed("; ".join(failures))

    def repair(self, w: np.ndarray, bounds: Bounds, exposure_cap: float) -> np.ndarray:
        """Remove solver-tolerance noise (first-order solvers stop at eps ~1e-4 per row, which can
        add up over N names): clip into [lb, ub], drop dust buys, shrink the discretionary trade if
        the turnover cap is exceeded, meet the exposure cap. Every step keeps w inside [lb, ub]."""
        w = np.clip(w, bounds.lb, bounds.ub)
        dust = self.config.dust
        if self.config.solver == "OSQP":
            dust = max(dust, float(self.config.options().get("eps_abs", 0.0)))
        # only dust *buys* are dropped: zeroing a sell-to-dust would add turnover
        w = np.where((w < dust) & (bounds.lb == 0) & (bounds.w0 <= w), 0.0, w)
        cap = bounds.turnover_cap
        if cap is not None and np.abs(w - bounds.w0).sum() > cap:
            # anchor: current weights moved only by forced trades (inside [lb, ub]); w' stays a
            # convex combination of two points inside the bounds.
            anchor = np.clip(bounds.w0, bounds.lb, bounds.ub)
            room = cap - np.abs(anchor - bounds.w0).sum()
            move = np.abs(w - anchor).sum()
            if move > 0:
                w = anchor + (w - anchor) * float(np.clip(room / move, 0.0, 1.0))
        total = w.sum()
        if total > exposure_cap:
            # shrink only what is above the lower bounds (sum(lb) <= exposure_cap, see bounds.py)
            floor = bounds.lb.sum()
            w = bounds.lb + (w - bounds.lb) * max(0.0, (exposure_cap - floor) / (total - floor))
        return w

    def _check_feasible(self, w: np.ndarray, bounds: Bounds, ctx: AllocationContext) -> None:
        problems = []
        if bounds.turnover_cap is not None:
            turnover = float(np.abs(w - bounds.w0).sum())
            if turnover > bounds.turnover_cap + FEASIBILITY_TOL:
                problems.append(f"turnover {turnover:.6f} > cap {bounds.turnover_cap:.6f}")
        if self.config.sector_hard_cap is not None:
            worst = float(sector_sums(w, bounds.sector_rows, bounds.n_sector_rows).max())
            if worst > self.config.sector_hard_cap + FEASIBILITY_TOL:
                problems.append(f"sector weight {worst:.6f} > hard cap {self.config.sector_hard_cap}")
        if problems:
            raise SolveFailed("solution infeasible after repair: " + "; ".join(problems))


class _VolSearch:
    """Solve, then search risk aversion gamma (in log space) while ex-ante vol is outside the band
    on a side the problem itself does not enforce (see the module docstring).

    Upper bound (search mode): find the smallest gamma >= the configured one whose vol is <= vol_max,
    stopping once vol is within VOL_SEARCH_EDGE under the cap. The search starts from the previous
    bar's answer (`hint`), which usually still lands in that window: one warm solve per bar.
    Lower bound: lower gamma from the configured one until vol >= vol_min; stop when a step
    no longer raises vol (caps bind) and report it."""

    def __init__(
        self,
        owner: OptimizerAllocator,
        problem: PortfolioProblem,
        model: FactorRiskModel,
        bounds: Bounds,
        ctx: AllocationContext,
    ) -> None:
        self.owner, self.problem, self.model, self.bounds, self.ctx = owner, problem, model, bounds, ctx
        cfg = owner.config
        self.vmin, self.vmax = cfg.vol_min, cfg.vol_max
        self.base = cfg.risk_aversion
        self.budget = cfg.vol_search_max_solves
        self.solve_ms: list[float] = []
        self.cache: dict[float, tuple[str, np.ndarray, float]] = {}

    def solve_at(self, gamma: float) -> tuple[str, np.ndarray, float]:
        if gamma not in self.cache:
            self.problem.set_gamma(gamma)
            status, w, ms = self.owner.solve_once(self.problem, self.bounds, self.ctx)
            self.solve_ms.append(ms)
            self.cache[gamma] = (status, w, self.model.vol(w, self.ctx.periods_per_year))
        return self.cache[gamma]

    def over(self, vol: float) -> bool:
        return self.vmax is not None and vol > self.vmax * (1 + VOL_TOL)

    def near_cap(self, vol: float) -> bool:
        return vol >= self.vmax * (1 - VOL_SEARCH_EDGE)

    def run(self, hint: float | None) -> tuple[np.ndarray, str, dict]:
        diag: dict = {}
        search_upper = self.vmax is not None and not self.problem.vol_constraint
        g = self.base
        if search_upper:
            g = self.search_upper(max(hint or self.base, self.base), diag)
        status, w, vol = self.solve_at(g)
        if self.vmin is not None and vol < self.vmin * (1 - VOL_TOL) and g == self.base:
            g = self.search_lower(diag)
        status, w, vol = self.solve_at(g)
        diag.update(gamma=g, n_solves=len(self.solve_ms), solve_ms=self.solve_ms)
        return w, status, diag

    def search_upper(self, start: float, diag: dict) -> float:
        """Smallest gamma >= base with vol <= vol_max (to the search tolerance)."""
        _, _, vol = self.solve_at(start)
        lo_bad: float | None = None
        hi_ok: float | None = None
        if not self.over(vol):
            if start == self.base or self.near_cap(vol):
                return start
            hi_ok = start
            _, _, vol_base = self.solve_at(self.base)
            if not self.over(vol_base):
                return self.base
            lo_bad = self.base
        else:
            lo_bad = start
            while len(self.solve_ms) < self.budget:
                _, _, vol_bad = self.solve_at(lo_bad)
                # vol ~ 1/gamma when bounds do not bind; square the ratio to overshoot, not creep
                g = lo_bad * float(
                    np.clip((vol_bad / (self.vmax * (1 - VOL_SEARCH_EDGE / 2))) ** 2, 1.5, 1e3)
                )
                _, _, vol = self.solve_at(g)
                if not self.over(vol):
                    hi_ok = g
                    break
                lo_bad = g
            if hi_ok is None:
                diag["vol_max_unattained"] = vol
                return lo_bad
            if self.near_cap(vol):
                return hi_ok
        while len(self.solve_ms) < self.budget:
            g = math.sqrt(lo_bad * hi_ok)
            _, _, vol = self.solve_at(g)
            if self.over(vol):
                lo_bad = g
            else:
                hi_ok = g
                if self.near_cap(vol):
                    break
        return hi_ok

    def search_lower(self, diag: dict) -> float:
        """Lower gamma until vol >= vol_min; in search mode never past the vol cap."""
        g_bad, vol_bad = self.base, self.solve_at(self.base)[2]
        g_floor = self.base * MIN_GAMMA_FRACTION
        g_ok = None
        while len(self.solve_ms) < self.budget:
            if g_ok is None:
                step = float(
                    np.clip((self.vmin * (1 + VOL_SEARCH_EDGE / 2) / max(vol_bad, 1e-12)) ** 2, 1.5, 1e3)
                )
                g = max(g_bad / step, g_floor)
                if g == g_bad:
                    break
            else:
                g = math.sqrt(g_bad * g_ok)
            _, _, vol = self.solve_at(g)
            if vol < self.vmin * (1 - VOL_TOL):
                if g_ok is None and vol < vol_bad * (1 + VOL_STALL):
                    g_bad = g
                    break  # taking more risk does not raise vol: caps or turnover bind
                g_bad, vol_bad = g, vol
            elif self.over(vol):
                g_ok = g  # overshot past the cap: bracket and bisect
            else:
                return g
        if g_ok is not None and not self.over(self.solve_at(g_ok)[2]):
            return g_ok
        diag["vol_below_min"] = self.solve_at(g_bad)[2]
        return g_bad if not self.over(self.solve_at(g_bad)[2]) else self.base
