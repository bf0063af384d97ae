"""Optimizer re-solve speed at n = 500 on real S&P 500 daily returns (../shared/data).

Builds point-in-time allocation contexts from the real daily panel (2018-2019, a calm window): 500 names with the
most bars, a 250-bar past returns window, 20-bar average dollar volume, and a realistic alpha
(12-1 style momentum: 120-bar return skipping the last 5 bars, cross-sectional z-score x 5 bp).
Every constraint is active: max weight 4%, liquidity filter and participation limit (equity $500m
so the 5%-of-ADV trade limit binds for the thinner names), NaN-alpha names sell-only, soft and hard
sector caps, exposure cap 0.9 from the governor, turnover cap 0.15 per rebalance, vol band
[8%, 12%].

For each solver: 100 consecutive bars with ONE allocator (DPP problem built once, warm re-solve;
weights drift with realised returns between bars), then a few bars with a fresh allocator each
time (problem rebuilt and re-canonicalised). "ms" is the allocator's wall time per rebalance
excluding the risk model estimation (reported separately, per refresh: the model is re-estimated
every `--risk-every` bars, 5 = weekly on these daily bars): parameter update, every solve of the
vol-band search, repair and checks. "total" includes the amortised risk model fits. Raw closes:
split days show fake -50% returns, so returns beyond +-40% are set to NaN (missing).

Per solver it also reports: solves per bar, solver iterations, the share of the wall time spent
inside the solver (its own clock) vs cvxpy's canonicalisation (DPP parameter mapping,
`problem.compilation_time`) vs the rest (solver interface and the allocator's Python: bounds,
vol-band search, repair, checks), CPU time per bar
(on a shared machine wall time includes waiting for a core; the load average is printed), and
accuracy: every constraint within 1e-6 after the clean-up, and, every `--check-every` bars, the
objective against a tight-tolerance CLARABEL solve of the same problem (same model; for a
search-mode solver at the gamma it found, without the vol band), relative gap <= 1e-4.

Working set (`--working-sets`, CLARABEL only): the same bars with OptimizerConfig.working_set
= K (see workers/engine/optimizer/working_set.py); reported per variant with the KKT rounds and
full-problem fallbacks, and checked the same way (constraints to 1e-6, objective gap vs the tight
full solve).

Last line: one JSON object {"n", "solver", "warm_p50_ms", "warm_p95_ms", "rebuild_p50_ms",
"load_avg", "solvers"}; "solver" is the fastest variant that passed every check.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

# One BLAS thread: on the shared 2-core machine, threaded BLAS in the risk model fights the other
# engineers' jobs and the solver for the cores (measured 5-9x slower eigen/matmul under load).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._data import DAILY_PARQUET, load_daily_sp500  # noqa: E402
from workers.engine.allocation import AllocationContext  # noqa: E402
from workers.engine.optimizer import OptimizerAllocator, OptimizerConfig  # noqa: E402
from workers.engine.optimizer.bounds import compute_bounds, sector_sums  # noqa: E402

N_NAMES = 500
WINDOW = 250
ADV_BARS = 20
EQUITY = 5e8
EXPOSURE_CAP = 0.9


def bench_config(
    solver: str,
    solver_options: dict | None = None,
    risk_every: int = 1,
    vol_mode: str = "auto",
    working_set: int | None = None,
) -> OptimizerConfig:
    return OptimizerConfig(
        risk_aversion=1.0,
        cost_bps=5.0,
        max_weight=0.04,
        min_price=5.0,
        min_adv_dollar=2e7,
        max_participation=0.05,
        max_turnover=0.15,
        sector_soft_cap=0.20,
        sector_penalty=0.002,
        sector_hard_cap=0.30,
        vol_min=0.08,
        vol_max=0.12,
        n_factors=15,
        risk_model_every=risk_every,
        vol_mode=vol_mode,
        solver=solver,
        solver_options=solver_options or {},
        working_set=working_set,
    )


class Contexts:
    """Point-in-time contexts from the real panel: row t uses rows <= t only."""

    def __init__(self) -> None:
        panel = load_daily_sp500(start="2018-01-01", end="2020-01-01")
        counts = panel.has_bar.sum(axis=0)
        keep = np.sort(np.argsort(-counts, kind="stable")[:N_NAMES])
        self.close = panel.close[:, keep]
        self.volume = panel.volume[:, keep]
        self.member = panel.member[:, keep] & panel.has_bar[:, keep]
        self.sector = panel.sector[keep]
        self.ppy = panel.periods_per_year
        with np.errstate(invalid="ignore", divide="ignore"):
            r = self.close[1:] / self.close[:-1] - 1.0
        r[np.abs(r) > 0.4] = np.nan
        self.returns = np.vstack([np.full((1, len(keep)), np.nan), r])
        self.T = self.close.shape[0]

    def alpha(self, t: int) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            mom = self.close[t - 5] / self.close[t - 125] - 1.0
        z = (mom - np.nanmean(mom)) / np.nanstd(mom)
        return np.where(self.member[t], 5e-4 * z, np.nan)

    def at(self, t: int, w0: np.ndarray) -> AllocationContext:
        dollar = self.close[t - ADV_BARS + 1 : t + 1] * self.volume[t - ADV_BARS + 1 : t + 1]
        with np.errstate(invalid="ignore"):
            adv = np.nanmean(dollar, axis=0)
        return AllocationContext(
            t=t,
            alpha=self.alpha(t),
            current_weights=w0,
            tradable=self.member[t],
            price=self.close[t],
            adv_dollar=adv,
            returns_window=self.returns[t - WINDOW + 1 : t + 1],
            sector=self.sector,
            exposure_cap=EXPOSURE_CAP,
            periods_per_year=self.ppy,
            equity=EQUITY,
        )

    def drift(self, w: np.ndarray, t: int) -> np.ndarray:
        """Weights at the close of t+1 after holding w over bar t+1 (cash earns nothing)."""
        r = np.nan_to_num(self.returns[t + 1])
        grown = w * (1 + r)
        return grown / (1 - w.sum() + grown.sum())


TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}
TOL = 1e-6


def violations(
    ctx: AllocationContext, w: np.ndarray, cfg: OptimizerConfig, model_vol: float | None
) -> list[str]:
    """Every constraint, to 1e-6 (the vol cap: 1e-6 relative)."""
    b = compute_bounds(ctx, cfg)
    out = []
    if (w < -1e-12).any() or (w > cfg.max_weight + TOL).any():
        out.append("weight bounds")
    if (w > b.ub + TOL).any() or (w < b.lb - TOL).any():
        out.append("per-name pins")
    if w.sum() > ctx.exposure_cap + TOL:
        out.append("exposure")
    if sector_sums(w, b.sector_rows, b.n_sector_rows).max() > cfg.sector_hard_cap + TOL:
        out.append("sector hard cap")
    if np.abs(w - b.w0).sum() > b.turnover_cap + TOL:
        out.append(f"turnover {np.abs(w - b.w0).sum() - b.turnover_cap:.2e} over")
    if model_vol is not None and model_vol > cfg.vol_max * (1 + TOL):
        out.append(f"vol {model_vol:.6f}")
    return out


def objective(ctx: AllocationContext, w: np.ndarray, cfg: OptimizerConfig, model, gamma: float) -> float:
    """The allocator's objective in per-bar units: alpha'w - cost |w - w0| - sector penalty -
    gamma w' Sigma w."""
    b = compute_bounds(ctx, cfg)
    excess = np.clip(sector_sums(w, b.sector_rows, b.n_sector_rows) - cfg.sector_soft_cap, 0, None).sum()
    return float(
        b.alpha @ w
        - cfg.cost_bps * 1e-4 * np.abs(w - b.w0).sum()
        - cfg.sector_penalty * excess
        - gamma * model.variance(w)
    )


def objective_gap(ctx: AllocationContext, res, alloc: OptimizerAllocator, cfg: OptimizerConfig) -> float:
    """Relative objective gap to a tight-tolerance CLARABEL solve of the same problem: the same
    risk model; the SOC vol cap for a conic solver, or the gamma the vol search settled on."""
    gamma = res.diagnostics["gamma"]
    if cfg.vol_as_constraint:
        ref_cfg = dataclasses.replace(
            cfg, solver="CLARABEL", solver_options=TIGHT, risk_model_every=2, working_set=None
        )
    else:
        ref_cfg = dataclasses.replace(
            cfg,
            solver="CLARABEL",
            solver_options=TIGHT,
            risk_aversion=gamma,
            vol_min=None,
            vol_max=None,
            risk_model_every=2,
            working_set=None,
        )
    ref = OptimizerAllocator(ref_cfg)
    # the same model: as if fitted one bar earlier, which risk_model_every=2 keeps for this bar
    ref._model, ref._model_t, ref._model_key = alloc._model, ctx.t - 1, alloc._model_key
    ref_w = ref.allocate(ctx).weights
    f = objective(ctx, res.weights, cfg, alloc._model, gamma)
    f_ref = objective(ctx, ref_w, cfg, alloc._model, gamma)
    return (f_ref - f) / max(abs(f_ref), 1e-12)


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


def run_solver(
    ctx_src: Contexts,
    solver: str,
    bars: int,
    rebuild_bars: int,
    options: dict | None,
    risk_every: int,
    check_every: int,
    vol_mode: str = "auto",
    working_set: int | None = None,
) -> dict:
    cfg = bench_config(solver, options, risk_every, vol_mode, working_set)
    label = solver if working_set is None else f"{solver}+ws{working_set}"
    start_t = ctx_src.T - bars - 1
    alloc = OptimizerAllocator(cfg)
    # Prime: the first solve builds the problem; the book starts from that first target.
    w = alloc.allocate(ctx_src.at(start_t - 1, np.zeros(N_NAMES))).weights
    w = ctx_src.drift(w, start_t - 1)
    warm, total, cpu, fits, solves, iters, statuses, bad, gaps = [], [], [], [], [], [], {}, 0, []
    kkt_rounds, ws_fallbacks = [], []
    wall_sum = solver_sum = cvxpy_sum = 0.0
    for i, t in enumerate(range(start_t, start_t + bars)):
        ctx = ctx_src.at(t, w)
        before = dict(alloc._problem.stats)
        c0 = time.process_time()
        t0 = time.perf_counter()
        res = alloc.allocate(ctx)
        ms = (time.perf_counter() - t0) * 1000.0
        cpu.append((time.process_time() - c0) * 1000.0)
        stats = alloc._problem.stats
        risk_ms = res.diagnostics.get("risk_ms", 0.0)
        if res.diagnostics.get("risk_refreshed"):
            fits.append(risk_ms)
        warm.append(ms - risk_ms)
        total.append(ms)
        solves.append(stats["solves"] - before["solves"])
        iters.append(stats["iterations"] - before["iterations"])
        solver_ms = stats["solver_ms"] - before["solver_ms"]
        wall_sum += ms - risk_ms
        solver_sum += solver_ms
        cvxpy_sum += stats["compile_ms"] - before["compile_ms"]
        statuses[res.status] = statuses.get(res.status, 0) + 1
        if working_set is not None:
            if "working_set_fallback" in res.diagnostics:
                ws_fallbacks.append(res.diagnostics["working_set_fallback"])
            elif "kkt_rounds" in res.diagnostics:
                kkt_rounds.append(res.diagnostics["kkt_rounds"])
        v = violations(ctx, res.weights, cfg, res.diagnostics.get("ex_ante_vol"))
        bad += bool(v)
        if check_every and i % check_every == 0 and res.status.startswith("optimal"):
            gaps.append(objective_gap(ctx, res, alloc, cfg))
        if i % 20 == 0:
            print(
                f"  {label} bar {i}: {ms - risk_ms:.1f} ms, {solves[-1]} solve(s), {iters[-1]} iterations, "
                f"status {res.status} vol {res.diagnostics.get('ex_ante_vol', float('nan')):.4f} turnover "
                f"{res.diagnostics.get('turnover', float('nan')):.3f} holdings {res.diagnostics.get('n_holdings')}"
                + (f" VIOLATIONS {v}" if v else "")
                + (f" reason {res.reason}" if res.reason else ""),
                flush=True,
            )
        w = ctx_src.drift(res.weights, t)
    rebuild = []
    for t in range(start_t, start_t + rebuild_bars):
        ctx = ctx_src.at(t, w)
        fresh = OptimizerAllocator(cfg)
        t0 = time.perf_counter()
        res = fresh.allocate(ctx)
        rebuild.append((time.perf_counter() - t0) * 1000.0 - res.diagnostics.get("risk_ms", 0.0))
    out = {
        "warm_p50_ms": pct(warm, 50),
        "warm_p95_ms": pct(warm, 95),
        "total_p50_ms": pct(total, 50),
        "total_mean_ms": round(float(np.mean(total)), 2),
        "cpu_p50_ms": pct(cpu, 50),
        "rebuild_p50_ms": pct(rebuild, 50),
        "risk_model_every": risk_every,
        "risk_fit_p50_ms": pct(fits, 50) if fits else None,
        "risk_fits": len(fits),
        "solves_per_bar_mean": round(float(np.mean(solves)), 2),
        "iterations_p50": float(np.median(iters)),
        "iterations_max": int(np.max(iters)),
        "solver_share": round(solver_sum / wall_sum, 3),
        "canonicalization_share": round(cvxpy_sum / wall_sum, 3),
        "interface_and_python_share": round(1 - (solver_sum + cvxpy_sum) / wall_sum, 3),
        "statuses": statuses,
        "bars_with_violations_1e-6": bad,
        "objective_rel_gap_max": float(f"{max(gaps):.2e}") if gaps else None,
        "objective_checks": len(gaps),
        "retried_solves": alloc.retries,
        "vol_mode": "constraint" if cfg.vol_as_constraint else "search",
        "working_set": working_set,
    }
    if working_set is not None:
        out.update(
            working_set_fallbacks=len(ws_fallbacks),
            working_set_fallback_reasons=sorted(set(ws_fallbacks))[:3],
            kkt_rounds_max=max(kkt_rounds) if kkt_rounds else None,
            kkt_rounds_mean=round(float(np.mean(kkt_rounds)), 2) if kkt_rounds else None,
        )
    print(f"{label}: {out}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solvers", default="OSQP,CLARABEL")
    parser.add_argument("--bars", type=int, default=100)
    parser.add_argument("--rebuild-bars", type=int, default=5)
    parser.add_argument("--risk-every", type=int, default=5, help="risk model refresh cadence (bars)")
    parser.add_argument("--check-every", type=int, default=5, help="objective check cadence (0: off)")
    parser.add_argument("--vol-mode", default="auto", help="auto | constraint | search (see OptimizerConfig)")
    parser.add_argument(
        "--working-sets",
        default="none,60,150",
        help="comma list of working-set sizes for CLARABEL ('none' = full problem)",
    )
    parser.add_argument("--osqp-options", default="{}", help="JSON of extra OSQP settings (tuning)")
    parser.add_argument("--clarabel-options", default="{}", help="JSON of extra CLARABEL settings")
    args = parser.parse_args()
    if not DAILY_PARQUET.exists():
        sys.exit(f"missing {DAILY_PARQUET}: the shared data folder is required for this benchmark")
    t0 = time.perf_counter()
    src = Contexts()
    print(f"loaded panel: {src.T} bars x {N_NAMES} names in {time.perf_counter() - t0:.1f}s", flush=True)
    load_start = os.getloadavg()
    results = {}
    sizes = [None if x.lower() == "none" else int(x) for x in args.working_sets.split(",")]
    for solver in args.solvers.split(","):
        opts = json.loads({"OSQP": args.osqp_options, "CLARABEL": args.clarabel_options}.get(solver, "{}"))
        for size in sizes if solver == "CLARABEL" else [None]:
            label = solver if size is None else f"{solver}+ws{size}"
            results[label] = run_solver(
                src,
                solver,
                args.bars,
                args.rebuild_bars,
                opts,
                args.risk_every,
                args.check_every,
                args.vol_mode,
                size,
            )
    load_end = os.getloadavg()
    # best EXACT variant: no constraint violation on any bar, objective gap within 1e-4 on the checks
    exact = {
        k: r
        for k, r in results.items()
        if r["bars_with_violations_1e-6"] == 0 and (r["objective_rel_gap_max"] or 0.0) <= 1e-4
    }
    best = min(exact or results, key=lambda s: results[s]["warm_p50_ms"])
    print(
        json.dumps(
            {
                "n": N_NAMES,
                "solver": best,
                "warm_p50_ms": results[best]["warm_p50_ms"],
                "warm_p95_ms": results[best]["warm_p95_ms"],
                "rebuild_p50_ms": results[best]["rebuild_p50_ms"],
                "solves_per_bar": results[best]["solves_per_bar_mean"],
                "risk_fit_per_refresh_ms": results[best]["risk_fit_p50_ms"],
                "load_avg": {
                    "start": [round(x, 2) for x in load_start],
                    "end": [round(x, 2) for x in load_end],
                },
                "cpus": os.cpu_count(),
                "solvers": results,
            }
        )
    )


if __name__ == "__main__":
    main()
