"""Settings of the portfolio optimizer, validated once so a bad setting fails at construction."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Solvers the problem can be handed to. OSQP is a QP solver: it cannot take the second-order-cone
# form of the volatility cap, so with OSQP the cap is met by a search on risk aversion instead.
QP_SOLVERS = ("OSQP",)
CONIC_SOLVERS = ("CLARABEL", "SCS", "ECOS")
VOL_MODES = ("auto", "constraint", "search")

DEFAULT_OSQP_OPTIONS = {
    "eps_abs": 1e-4,
    "eps_rel": 1e-4,
    "polishing": False,
    "adaptive_rho": True,
    "max_iter": 20_000,
}


# Clarabel: gap tolerances 1e-6 (feasibility 1e-7) instead of 1e-8: one to two fewer interior point
# iterations (23 vs 24 median on 40 real n = 500 bars), objective within 3.5e-7 (relative) of a
# 1e-10 solve and every constraint within 1e-6 (bench/optimizer.py). Iterative refinement stays
# on: without it 30 of 40 consecutive bench bars ended "inaccurate" (measured earlier).
DEFAULT_CLARABEL_OPTIONS = {"tol_gap_abs": 1e-6, "tol_gap_rel": 1e-6, "tol_feas": 1e-7}
DEFAULT_OPTIONS = {"OSQP": DEFAULT_OSQP_OPTIONS, "CLARABEL": DEFAULT_CLARABEL_OPTIONS}


class OptimizerConfigError(ValueError):
    """A setting of the optimizer that cannot work, with the reason."""


@dataclass(frozen=True)
class OptimizerConfig:
    """Every knob of `OptimizerAllocator`.

    Units: alpha is an expected return per bar; `risk_aversion` multiplies the per-bar variance;
    `cost_bps` is charged per unit of one-way turnover; volatility bounds are annualised with the
    context's `periods_per_year`.
    """

    risk_aversion: float = 1.0
    cost_bps: float = 5.0
    max_weight: float = 0.10
    # Liquidity filter: failing names may only be sold (held) or stay at zero (not held).
    min_price: float = 5.0
    min_adv_dollar: float = 1e6
    # Per-name trade size limit: |w - w0| * equity <= max_participation * ADV (dollar).
    max_participation: float = 0.05
    max_turnover: float | None = None  # sum |w - w0| per rebalance; None = no cap
    sector_soft_cap: float | None = 0.25  # sector weight above this is penalised
    sector_penalty: float = 0.01  # per unit of sector weight above the soft cap
    sector_hard_cap: float | None = None  # optional hard cap on every sector's weight
    vol_min: float | None = None  # annualised ex-ante vol band (lower bound pursued, see allocator)
    vol_max: float | None = None
    vol_mode: str = "auto"  # auto: SOC constraint for conic solvers, risk-aversion search for OSQP
    vol_search_max_solves: int = 8
    n_factors: int = 15
    # Re-estimate the factor model every this many bars (ctx.t); in between, the model of the
    # last refresh is kept (estimated on data up to that bar only). Risk models move on a slower
    # clock than rebalancing: e.g. 7 (daily) or 35 (weekly) on hourly bars. A fit is ~15 ms at
    # n = 500, as much as a solve, and an unchanged model lets OSQP keep its factorisation.
    risk_model_every: int = 1
    min_obs: int = 60  # returns needed in the window for a name to get an estimated risk
    default_idio_vol: float = 0.80  # annualised idio vol for names with too little history
    # CLARABEL (interior point) is the default: on the real n = 500 problem with every constraint
    # active it converges in 20-30 iterations every bar (~1 ms each on the 2-core machine), while
    # OSQP (ADMM) needs 800-2000 iterations per warm re-solve even with the percent-unit scaling
    # (the L1 trade cost and turnover cap make it LP-like), ~2.8 solves per bar for the vol cap
    # search, and at eps 1e-4 misses the tight optimum by ~5e-4 (relative) and the caps by more
    # than 1e-6 on some bars; see bench/optimizer.py. OSQP stays supported (vol cap by search).
    solver: str = "CLARABEL"
    solver_options: dict = field(default_factory=dict)
    dust: float = 1e-6  # target weights below this are set to zero
    # Exact working-set solve (see working_set.py): solve on this many names (held + the best by
    # a marginal-utility screen), certify optimality for all N with the KKT check, fall back to
    # the full problem when that fails or the held names do not fit (both recorded in the
    # diagnostics). None, or a universe no larger than this: always the full problem.
    # 60 is the default because it is exact and ~3.7x faster on the real n = 500 bench (every
    # constraint active, 100 bars, CLARABEL): CPU p50 8.1 ms vs 30.4 ms for the full problem,
    # every bar certified by the KKT check in one round, no fallback, no constraint off by 1e-6,
    # objective within 3.4e-7 of a 1e-10 full solve (full problem at the same tolerances: 2.3e-7).
    # The bench book holds ~32 names; a strategy holding more than K names pays one cheap check
    # and then the full solve each bar, so raise K (or set None) for much broader books.
    working_set: int | None = 60

    def __post_init__(self) -> None:
        def positive(name: str, value: float | None, *, allow_zero: bool = False) -> None:
            if value is None:
                return
            if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
                raise OptimizerConfigError(
                    f"{name} must be a finite {'non-negative' if allow_zero else 'positive'} number, got {value!r}"
                )

        positive("risk_aversion", self.risk_aversion)
        positive("cost_bps", self.cost_bps, allow_zero=True)
        positive("max_weight", self.max_weight)
        if self.max_weight > 1:
            raise OptimizerConfigError(f"max_weight must be <= 1 (no leverage), got {self.max_weight}")
        positive("min_price", self.min_price, allow_zero=True)
        positive("min_adv_dollar", self.min_adv_dollar, allow_zero=True)
        positive("max_participation", self.max_participation)
        positive("max_turnover", self.max_turnover, allow_zero=True)
        positive("sector_soft_cap", self.sector_soft_cap, allow_zero=True)
        positive("sector_penalty", self.sector_penalty, allow_zero=True)
        positive("sector_hard_cap", self.sector_hard_cap, allow_zero=True)
        positive("vol_min", self.vol_min)
        positive("vol_max", self.vol_max)
        if self.vol_min is not None and self.vol_max is not None and self.vol_min > self.vol_max:
            raise OptimizerConfigError(f"vol_min {self.vol_min} is above vol_max {self.vol_max}")
        if self.vol_mode not in VOL_MODES:
            raise OptimizerConfigError(f"vol_mode must be one of {VOL_MODES}, got {self.vol_mode!r}")
        if self.solver not in QP_SOLVERS + CONIC_SOLVERS:
            raise OptimizerConfigError(
                f"solver must be one of {QP_SOLVERS + CONIC_SOLVERS}, got {self.solver!r}"
            )
        if self.vol_mode == "constraint" and self.solver in QP_SOLVERS and self.vol_max is not None:
            raise OptimizerConfigError(
                f"{self.solver} cannot solve the SOC volatility constraint; use vol_mode='search'"
            )
        if self.n_factors < 1:
            raise OptimizerConfigError(f"n_factors must be >= 1, got {self.n_factors}")
        if self.risk_model_every < 1:
            raise OptimizerConfigError(f"risk_model_every must be >= 1, got {self.risk_model_every}")
        if self.min_obs < 2:
            raise OptimizerConfigError(f"min_obs must be >= 2, got {self.min_obs}")
        positive("default_idio_vol", self.default_idio_vol)
        if self.working_set is not None and (
            not isinstance(self.working_set, int)
            or isinstance(self.working_set, bool)
            or self.working_set < 1
        ):
            raise OptimizerConfigError(
                f"working_set must be a positive int or None, got {self.working_set!r}"
            )
        if self.vol_search_max_solves < 1:
            raise OptimizerConfigError("vol_search_max_solves must be >= 1")

    @property
    def vol_as_constraint(self) -> bool:
        """True when the vol cap is a SOC constraint of the problem, False when it is met by search."""
        if self.vol_max is None:
            return False
        if self.vol_mode == "auto":
            return self.solver in CONIC_SOLVERS
        return self.vol_mode == "constraint"

    def options(self) -> dict:
        """Keyword options passed to `problem.solve` for the configured solver: the tuned
        defaults, overridden by `solver_options`."""
        base = dict(DEFAULT_OPTIONS.get(self.solver, {}))
        base.update(self.solver_options)
        return base

    def retry_options(self) -> dict | None:
        """Options for a second attempt after a failed solve (the solver's own defaults plus
        `solver_options`), or None when there is nothing different to try."""
        retry = dict(self.solver_options)
        if self.solver == "OSQP":
            retry = {**DEFAULT_OSQP_OPTIONS, "max_iter": 100_000, **self.solver_options}
        return retry if retry != self.options() else None
