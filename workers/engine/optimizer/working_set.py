"""An exact working-set solve: the full problem restricted to K slots, proven optimal by KKT.

Why: at n = 500 with every constraint active, the interior-point solve is ~93% of the allocator's
time and scales with n, but the optimum holds far fewer names than n (the caps, the turnover cap
and the trade cost keep the book concentrated). A name that is not held (w0 = 0) and left out of
the problem has w = 0, which changes no constraint: it adds no exposure, sector weight, trade or
risk. So the solution of the K-slot problem is feasible for the full one, and it is *optimal* for
the full one exactly when every excluded name has a non-positive marginal utility of a small buy
at that solution, net of the prices (duals) of the constraints a buy would enter:

    alpha_i/gamma - cost_i - 2 x_i'y - mu_exposure - mu_soft[s_i] - mu_hard[s_i] - mu_turnover
                  - mu_vol * x_i'y / ||(y, sqrt(idio) w)||  <=  tol

(x_i the name's factor loadings, y = X'w; the idiosyncratic risk gradient is 0 at w_i = 0). This
is the full problem's stationarity condition for w_i with the multiplier of w_i >= 0 taken as
minus that number, so when it holds the duals of the small problem certify the full one. When
some excluded names violate it, the worst are swapped in for slots at zero weight and the small
problem is re-solved; after MAX_ROUNDS, or when the names that must be in the set (held, or with
a forced move) do not fit in K slots, the full problem is solved instead (recorded).

The K-slot problem is built once (DPP, Parameters for everything that names a slot, including
the sector membership) and re-solved; the full problem is built lazily, only for a fallback.
"""

from __future__ import annotations

import numpy as np

from .problem import PortfolioProblem

MAX_ROUNDS = 4  # K-slot solves per call before the full problem is solved instead
# Per-bar return per unit of weight: a violation below this is solver noise (duals of a 1e-6
# interior-point solve); a name with this marginal would earn ~1e-10 of objective if bought.
KKT_TOL = 1e-8
ADD_PER_ROUND = 20  # worst violators swapped in per round
# A slot at or below this weight may be given to a violator (interior-point solutions are never
# exactly 0). Safe at any value: the next round's KKT check re-adds the name if it is needed.
ZERO_WEIGHT = 1e-7


class WorkingSetProblem:
    """Drop-in for `PortfolioProblem` (set_risk / set_bar / set_gamma / solve / stats) that
    solves on a working set of `size` names and checks optimality for all N."""

    def __init__(
        self, *, sector_rows: np.ndarray, n_sector_rows: int, k: int, vol_constraint: bool, size: int
    ) -> None:
        self.sector_rows = np.asarray(sector_rows).copy()
        self.n, self.g, self.k, self.size = len(self.sector_rows), n_sector_rows, k, size
        self.vol_constraint = vol_constraint
        slots = min(size, self.n)
        self.inner = PortfolioProblem(
            sector_rows=self.sector_rows[:slots],
            n_sector_rows=n_sector_rows,
            k=k,
            vol_constraint=vol_constraint,
            sector_parameter=True,
        )
        self.slots = slots
        self._full: PortfolioProblem | None = None
        self._full_risk_version = -1
        self._risk: tuple[np.ndarray, np.ndarray, float | None] | None = None
        self._risk_version = 0
        self._bar: dict | None = None
        self.gamma = 1.0
        self.full_solves = 0  # fallbacks to the full problem, for tests and benches
        self.info: dict[float, dict] = {}  # per gamma of the current bar: what the last solve did
        self.last_set: np.ndarray | None = None  # names of the last certified working-set solve

    @property
    def stats(self) -> dict:
        out = dict(self.inner.stats)
        if self._full is not None:
            for key, value in self._full.stats.items():
                out[key] += value
        return out

    def is_dpp(self) -> bool:
        return self.inner.is_dpp()

    def set_risk(self, *, loadings: np.ndarray, idio_var: np.ndarray, risk_budget: float | None) -> None:
        if self.vol_constraint and risk_budget is None:
            raise ValueError("the problem was built with a vol constraint: risk_budget is required")
        self._risk = (np.asarray(loadings), np.asarray(idio_var), risk_budget)
        self._risk_version += 1

    def set_bar(self, **bar) -> None:
        self._bar = bar
        self.info = {}
        self.gamma = bar["gamma"]

    def set_gamma(self, gamma: float) -> None:
        self.gamma = gamma

    # -- the full problem (fallback) ------------------------------------------------------------
    def full_problem(self) -> PortfolioProblem:
        if self._full is None:
            self._full = PortfolioProblem(
                sector_rows=self.sector_rows,
                n_sector_rows=self.g,
                k=self.k,
                vol_constraint=self.vol_constraint,
            )
        full = self._full
        if self._full_risk_version != self._risk_version:
            loadings, idio_var, budget = self._risk
            full.set_risk(loadings=loadings, idio_var=idio_var, risk_budget=budget)
            self._full_risk_version = self._risk_version
        full.set_bar(**{**self._bar, "gamma": self.gamma})
        return full

    def _solve_full(self, *, solver: str, options: dict, warm_start: bool, reason: str, info: dict):
        self.full_solves += 1
        status, w, ms = self.full_problem().solve(solver=solver, options=options, warm_start=warm_start)
        info.update(working_set_fallback=reason)
        self.info[self.gamma] = info
        return status, w, ms

    # -- the working set ------------------------------------------------------------------------
    def marginal_screen(self) -> np.ndarray:
        """Per-bar marginal utility of a small buy at the current weights, for every name:
        alpha - cost - 2 gamma x_i' X' w0 (per unit weight, risk aversion on the risk side)."""
        bar = self._bar
        loadings = self._risk[0]
        return bar["alpha"] - bar["cost"] - 2.0 * self.gamma * (loadings @ (loadings.T @ bar["w0"]))

    def _load(self, idx: np.ndarray) -> None:
        """Put names `idx` (at most `slots`) into the slots; the remaining slots are empty
        (pinned at 0, no sector, no risk)."""
        bar, (loadings, idio_var, budget) = self._bar, self._risk
        m, s = len(idx), self.slots

        def pad(values: np.ndarray) -> np.ndarray:
            out = np.zeros((s,) + values.shape[1:])
            out[:m] = values[idx]
            return out

        active = np.zeros(s, dtype=bool)
        active[:m] = True
        rows = np.zeros(s, dtype=np.int64)
        rows[:m] = self.sector_rows[idx]
        self.inner.set_membership(rows, active)
        self.inner.set_risk(loadings=pad(loadings), idio_var=pad(idio_var), risk_budget=budget)
        self.inner.set_bar(
            **{
                **bar,
                **{key: pad(np.asarray(bar[key])) for key in ("alpha", "w0", "lb", "ub", "cost")},
                "gamma": self.gamma,
            }
        )

    def buy_marginals(self, idx: np.ndarray, w_units: np.ndarray) -> np.ndarray:
        """Per-bar marginal utility of a small buy of every name (per unit weight) at the K-slot
        solution `w_units` (slot weights in solver units), net of the duals of the constraints a
        buy enters: exposure, soft and hard sector caps, turnover, vol cap. For a name in the
        set that is bought strictly inside its bounds this is 0 (stationarity); for an excluded
        name it must be <= 0 for the solution to be optimal for all N."""
        p, bar = self.inner, self._bar
        c = p.constraints
        scale = p.objective_scale / max(self.gamma, 1.0) / p.unit  # per-bar -> solver units
        y = np.asarray(p.y.value)
        # every name's loadings in solver units are (root / unit) * x_i, as _load_risk scales them
        root = np.sqrt(p.objective_scale * min(self.gamma, 1.0))
        xt_y = (root / p.unit) * (self._risk[0] @ y)  # (N,)
        w = np.zeros(self.n)
        w[idx] = w_units[: len(idx)]
        idio = (root / p.unit) ** 2 * self._risk[1]
        rows = self.sector_rows
        price = (
            float(c[5].dual_value)  # exposure
            + np.asarray(c[6].dual_value)[rows]  # soft sector cap (the excess a buy adds)
            + np.asarray(c[7].dual_value)[rows]  # hard sector cap
            + float(c[8].dual_value)  # turnover: a buy is a trade
        )
        grad = scale * (bar["alpha"] - bar["cost"]) - 2.0 * xt_y - 2.0 * idio * w - price
        if self.vol_constraint:
            sd = (root / p.unit) * np.sqrt(self._risk[1])
            norm = float(np.sqrt(y @ y + np.sum((sd * w) ** 2)))
            if norm > 0:
                mu_vol = float(np.ravel(c[9].dual_value[0])[0])
                grad = grad - mu_vol * (xt_y + sd * sd * w) / norm
        return grad / scale

    def kkt_violations(self, idx: np.ndarray, w_units: np.ndarray) -> np.ndarray:
        """`buy_marginals` of the names outside the set that can be bought (ub > 0); NaN for the
        others."""
        out = self.buy_marginals(idx, w_units)
        excluded = np.ones(self.n, dtype=bool)
        excluded[idx] = False
        excluded &= self._bar["ub"] > 0
        return np.where(excluded, out, np.nan)

    def solve(self, *, solver: str, options: dict, warm_start: bool = True):
        """Solve on the working set and certify it (see the module docstring); returns
        (status, full-length weights or None, wall ms) like `PortfolioProblem.solve`."""
        bar = self._bar
        w0, lb, ub = bar["w0"], bar["lb"], bar["ub"]
        # must be in the set: held, or with a forced move (a lower bound); a name with w0 = 0 and
        # ub = 0 can never move and is never needed
        must = np.flatnonzero((w0 > 0) | (lb > 0))
        info: dict = {"working_set_size": 0, "kkt_rounds": 0, "kkt_max_violation": None}
        if len(must) > self.slots:
            return self._solve_full(
                solver=solver,
                options=options,
                warm_start=warm_start,
                reason=f"{len(must)} held names exceed the working set of {self.slots}",
                info=info,
            )
        screen = self.marginal_screen()
        candidates = np.flatnonzero((ub > 0) & ~np.isin(np.arange(self.n), must))
        # stable order: highest marginal utility first, ties by index (determinism)
        order = candidates[np.lexsort((candidates, -screen[candidates]))]
        idx = np.concatenate([must, order[: self.slots - len(must)]])
        total_ms = 0.0
        reason = f"KKT check still violated after {MAX_ROUNDS} working-set rounds"
        for round_ in range(1, MAX_ROUNDS + 1):
            self._load(idx)
            status, w_slots, ms = self.inner.solve(solver=solver, options=options, warm_start=warm_start)
            total_ms += ms
            info.update(working_set_size=len(idx), kkt_rounds=round_)
            if status not in ("optimal", "optimal_inaccurate") or w_slots is None:
                status, w, ms = self._solve_full(
                    solver=solver,
                    options=options,
                    warm_start=warm_start,
                    reason=f"working-set solve returned {status!r}",
                    info=info,
                )
                return status, w, total_ms + ms
            viol = self.kkt_violations(idx, np.asarray(self.inner.w.value))
            worst = float(np.nanmax(viol)) if np.isfinite(viol).any() else float("-inf")
            info["kkt_max_violation"] = worst
            if worst <= KKT_TOL:
                w = np.zeros(self.n)
                w[idx] = w_slots[: len(idx)]
                self.info[self.gamma] = info
                self.last_set = idx
                return status, w, total_ms
            if round_ == MAX_ROUNDS:
                break
            bad = np.flatnonzero(np.nan_to_num(viol, nan=-np.inf) > KKT_TOL)
            bad = bad[np.lexsort((bad, -viol[bad]))][:ADD_PER_ROUND]
            # free slots: empty ones first, then names in the set at zero weight and not held
            members = np.zeros(self.n, dtype=bool)
            members[must] = True
            zero = [j for j, name in enumerate(idx) if not members[name] and w_slots[j] <= ZERO_WEIGHT]
            free = self.slots - len(idx)
            if free + len(zero) == 0:
                reason = f"{len(bad)} KKT violators and no zero-weight slot to swap them into"
                break  # no room for any violator: the full problem decides
            take = min(len(bad), free + len(zero))
            drop = set(zero[: max(0, take - free)])
            kept = np.array([name for j, name in enumerate(idx) if j not in drop], dtype=np.int64)
            idx = np.concatenate([kept, bad[:take]])
        status, w, ms = self._solve_full(
            solver=solver,
            options=options,
            warm_start=warm_start,
            reason=reason,
            info=info,
        )
        return status, w, total_ms + ms
