"""Backtest engine speed on the real data (../shared/data), against backtrader and vectorbt.

1. Simulation core: the real 504-stock daily set (load_daily_sp500(), ~2.7M bar-symbols) with a
   given target-weight panel re-balanced EVERY bar (equal weight over the members with a bar:
   every bar sends ~500 orders and fills them, the dense worst case), default costs (slippage,
   half spread, square-root impact), 10% participation, governor on. Reported:
   `sim_bar_symbols_per_s` = the bar loop given the prepared market inputs (`build_inputs`, reusable
   across runs on one panel), and `end_to_end_bar_symbols_per_s` including that preparation.
2. Full backtest with the cvxpy optimizer (workers/engine/optimizer, OSQP) called every bar: the
   daily set's last `--opt-bars` rows and its 500 names with the most bars, treated as HOURLY bars
   (freq 1h, 7 bars a day); alpha = 120-bar momentum skipping 5 bars, z-scored x 5 bp. The daily
   set has only 5,402 rows, fewer than the 8,820 of 5 years of hourly bars, so the 8,820-bar
   figure is projected from the measured per-bar time (`full_backtest_s`), and the measured run is
   reported as is. Optimizer time share = allocator wall time / backtest wall time.
3. The same run over the real hourly Nasdaq-100 set (load_hourly_csv(NASDAQ_HOURLY)).
4. MA(10/30) crossover, zero costs, next-open fills, one shared account with an equal split per
   name (entry buys equity x 0.9 / N at the signal close; exit sells the position), run by this
   engine, backtrader and vectorbt on the same `--peer-names` (30) real names of the daily set with
   a bar on every one of its 5,402 days, 1999-11..2021-04, split-adjusted, prices rounded to 1/256 $
   (exact float sums, see peers.dyadic_prices). `backtrader_ratio` / `vectorbt_ratio` = median peer
   time / median time of ours, each engine end to end (frames -> signals -> fills -> trade list).
   vectorbt's first call (numba compilation) is excluded and reported as `vectorbt_cold_s`.
   `same_trades`: all three produce the same fills (date, symbol, side, shares to 1e-12) across
   all names and final equities within 1e-9. Ours is timed both before and after the simulation
   core has run (`peer_ours_ms_fresh` vs `peer_ours_ms`), with a gc.collect() before each timing,
   to show whether the large-panel run slows the small run down.

Prices are split-adjusted (load_daily_sp500 default): no fake -50% bars on split days.
The bar loop is compiled (numba, cached on disk): `loop_first_call_s` is this process's first
backtest call (loading the cached machine code, or compiling it when there is no cache yet), and
is never inside a timing. The machine is shared: `load_avg_1m` is the load average at the start
and at the end of the run, to read the figures by.
Last line: one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._data import NASDAQ_HOURLY, load_daily_sp500, load_hourly_csv  # noqa: E402
from workers.engine.backtest import BacktestConfig, build_inputs, peers, run_backtest  # noqa: E402
from workers.engine.panel import Panel  # noqa: E402

HOURLY_5Y_BARS = 5 * 252 * 7


def log(msg: str) -> None:
    print(msg, flush=True)


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def sim_core(panel: Panel, repeat: int) -> dict:
    T, N = panel.shape
    w = np.where(panel.member & panel.has_bar, 1.0, 0.0)
    w /= np.maximum(w.sum(axis=1, keepdims=True), 1.0)
    config = BacktestConfig()
    t_inputs, inputs = best_of(lambda: build_inputs(panel, config), repeat)
    t_core, result = best_of(lambda: run_backtest(panel, config, targets=w, inputs=inputs), repeat)
    s = result.summary()
    log(f"sim core: {T} bars x {N} names, loop {t_core:.3f}s, inputs {t_inputs:.3f}s, {s['n_fills']} fills")
    return {
        "bar_symbols": T * N,
        "sim_bar_symbols_per_s": round(T * N / t_core),
        "sim_core_s": round(t_core, 4),
        "sim_inputs_s": round(t_inputs, 4),
        "end_to_end_bar_symbols_per_s": round(T * N / (t_core + t_inputs)),
        "sim_fills": s["n_fills"],
    }


def momentum_alpha(close: np.ndarray, member: np.ndarray) -> np.ndarray:
    """Row t from rows <= t: (close[t-5] / close[t-125] - 1), z-scored across names, x 5 bp."""
    T, _ = close.shape
    alpha = np.full(close.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        mom = close[120:-5] / close[:-125] - 1.0
        mom[np.abs(mom) > 2] = np.nan
        z = (mom - np.nanmean(mom, axis=1, keepdims=True)) / np.nanstd(mom, axis=1, keepdims=True)
    alpha[125:] = 5e-4 * z
    return np.where(member, alpha, np.nan)


def as_hourly(panel: Panel, rows: int, names: int) -> Panel:
    counts = panel.has_bar[-rows:].sum(axis=0)
    keep = np.sort(np.argsort(-counts, kind="stable")[:names])
    sl = slice(panel.shape[0] - rows, panel.shape[0])
    return Panel(
        index=panel.index[sl],
        symbols=tuple(panel.symbols[i] for i in keep),
        open=panel.open[sl][:, keep],
        high=panel.high[sl][:, keep],
        low=panel.low[sl][:, keep],
        close=panel.close[sl][:, keep],
        volume=panel.volume[sl][:, keep],
        member=panel.member[sl][:, keep],
        sector=panel.sector[keep],
        benchmark=panel.benchmark[sl],
        freq="1h",
        bars_per_day=7,
        sector_names=panel.sector_names,
    )


def optimizer_backtest(panel: Panel, label: str) -> dict:
    from workers.engine.optimizer import OptimizerAllocator, OptimizerConfig

    T, N = panel.shape
    alloc = OptimizerAllocator(
        OptimizerConfig(
            max_weight=0.04,
            min_adv_dollar=1e6,
            max_turnover=0.2,
            n_factors=10,
            min_obs=40,
            risk_model_every=35,
        )
    )
    alpha = momentum_alpha(panel.close, panel.member)
    config = BacktestConfig(initial_cash=1e8, returns_window=120)
    t0 = time.perf_counter()
    result = run_backtest(panel, config, allocator=alloc, alpha=alpha)
    wall = time.perf_counter() - t0
    statuses: dict[str, int] = {}
    for _, status, _ in result.allocation_log:
        statuses[status] = statuses.get(status, 0) + 1
    share = result.allocator_seconds / wall
    log(
        f"{label}: {T} bars x {N} names, {wall:.1f}s ({wall / T * 1000:.1f} ms/bar), optimizer share {share:.1%}, "
        f"statuses {statuses}, final equity {result.equity[-1]:,.0f}"
    )
    return {
        "bars": T,
        "names": N,
        "wall_s": round(wall, 2),
        "ms_per_bar": round(wall / T * 1000, 2),
        "optimizer_time_share": round(share, 4),
        "statuses": statuses,
    }


def median_time(fn, repeat: int) -> float:
    gc.collect()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def peer_frames(daily: Panel, names: int) -> dict:
    """`names` names with a bar (and volume) on every row, evenly spread over the alphabet."""
    full = np.flatnonzero(daily.has_bar.all(axis=0) & (np.nan_to_num(daily.volume) > 0).all(axis=0))
    pick = full[np.unique(np.linspace(0, len(full) - 1, names).round().astype(int))]
    return peers.dyadic_prices(peers.frames_from_panel(daily, [daily.symbols[j] for j in pick]))


PEER_SETTINGS = dict(fast=10, slow=30, cash=1_000_000.0, invest=0.9, integer=False)


def time_ours(frames: dict, repeat: int) -> float:
    peers.ours(frames, **PEER_SETTINGS)  # warm-up
    return median_time(lambda: peers.ours(frames, **PEER_SETTINGS), repeat)


def peer_ratios(frames: dict, *, repeat: int, bt_repeat: int, ours_fresh: float) -> dict:
    t0 = time.perf_counter()
    vb = peers.vectorbt(frames, **PEER_SETTINGS)
    vb_cold = time.perf_counter() - t0
    t_ours = time_ours(frames, repeat)
    t_vb = median_time(lambda: peers.vectorbt(frames, **PEER_SETTINGS), max(3, repeat // 2))
    t_bt = median_time(lambda: peers.backtrader(frames, **PEER_SETTINGS), bt_repeat)
    a, b = peers.ours(frames, **PEER_SETTINGS), peers.backtrader(frames, **PEER_SETTINGS)
    same = peers.same_trades(a.trades, b.trades) and peers.same_trades(a.trades, vb.trades)
    same &= bool(np.isclose(a.final_equity, b.final_equity, rtol=1e-9))
    same &= bool(np.isclose(a.final_equity, vb.final_equity, rtol=1e-9))
    bars = len(next(iter(frames.values())))
    log(
        f"peers ({bars} bars x {len(frames)} names, {len(a.trades)} fills): ours {t_ours * 1000:.1f} ms "
        f"(fresh {ours_fresh * 1000:.1f} ms), backtrader {t_bt:.2f} s, vectorbt {t_vb * 1000:.1f} ms "
        f"(cold {vb_cold:.1f}s), same trades: {same}"
    )
    return {
        "backtrader_ratio": round(t_bt / t_ours, 1),
        "vectorbt_ratio": round(t_vb / t_ours, 2),
        "same_trades": bool(same),
        "peer_names": len(frames),
        "peer_bars": bars,
        "peer_fills": len(a.trades),
        "peer_ours_ms": round(t_ours * 1000, 2),
        "peer_ours_ms_fresh": round(ours_fresh * 1000, 2),
        "peer_backtrader_s": round(t_bt, 2),
        "peer_vectorbt_ms": round(t_vb * 1000, 2),
        "vectorbt_cold_s": round(vb_cold, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--opt-bars", type=int, default=5402, help="rows of the daily set for the optimizer run")
    ap.add_argument("--opt-names", type=int, default=500)
    ap.add_argument("--skip-optimizer", action="store_true")
    ap.add_argument("--peer-names", type=int, default=30, help="names in the peer comparison")
    ap.add_argument("--peer-repeat", type=int, default=9, help="timed runs of ours (median)")
    ap.add_argument("--bt-repeat", type=int, default=3, help="timed backtrader runs (median; ~30 s each)")
    args = ap.parse_args()

    figures: dict = {"load_avg_1m": [round(os.getloadavg()[0], 2)]}
    t0 = time.perf_counter()
    tiny = Panel(
        index=np.arange(3).astype("datetime64[D]").astype("datetime64[ns]"),
        symbols=("A",),
        **{c: np.ones((3, 1)) for c in ("open", "high", "low", "close", "volume")},
        member=np.ones((3, 1), dtype=bool),
        sector=np.zeros(1, dtype=np.int64),
        benchmark=np.full(3, np.nan),
    )
    run_backtest(tiny, targets=np.ones((3, 1)))
    figures["loop_first_call_s"] = round(time.perf_counter() - t0, 3)
    log(f"first backtest call (compiled loop loaded or compiled): {figures['loop_first_call_s']} s")
    log("loading the daily S&P 500 set ...")
    daily = load_daily_sp500()
    frames = peer_frames(daily, args.peer_names)
    ours_fresh = time_ours(frames, args.peer_repeat)
    figures.update(sim_core(daily, args.repeat))
    figures.update(
        peer_ratios(frames, repeat=args.peer_repeat, bt_repeat=args.bt_repeat, ours_fresh=ours_fresh)
    )
    if not args.skip_optimizer:
        rows = min(args.opt_bars, daily.shape[0])
        full = optimizer_backtest(
            as_hourly(daily, rows, args.opt_names), "optimizer backtest (daily rows as hourly bars)"
        )
        figures["full_backtest_measured"] = full
        figures["full_backtest_s"] = round(full["ms_per_bar"] / 1000 * HOURLY_5Y_BARS, 1)
        figures["full_backtest_s_is_projected"] = rows < HOURLY_5Y_BARS
        figures["optimizer_time_share"] = full["optimizer_time_share"]
        hourly = load_hourly_csv(NASDAQ_HOURLY)
        figures["hourly_nasdaq"] = optimizer_backtest(hourly, "optimizer backtest (real Nasdaq-100 hourly)")
        figures["hourly_nasdaq"]["sim_bar_symbols_per_s"] = sim_core(hourly, args.repeat)[
            "sim_bar_symbols_per_s"
        ]
    figures["load_avg_1m"].append(round(os.getloadavg()[0], 2))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
