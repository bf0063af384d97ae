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
4. MA(10/30) crossover, all-in, zero costs, next-open fills on the zipline csvdir samples
   (AAPL, IBM, KO, MSFT 2012-2014) by this engine, backtrader and vectorbt: ratios of peer time
   over ours (best of 10 for each tool after a warm-up, so vectorbt's numba compilation is excluded and reported
   separately), and whether all three produce the same trades.

Raw (unadjusted) closes: split days look like -50% bars; irrelevant for speed.
Last line: one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.engine.backtest import BacktestConfig, build_inputs, peers, run_backtest  # noqa: E402
from workers.engine.datasets import NASDAQ_HOURLY, load_daily_sp500, load_hourly_csv  # noqa: E402
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
        OptimizerConfig(max_weight=0.04, min_adv_dollar=1e6, max_turnover=0.2, n_factors=10, min_obs=40)
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


def peer_ratios(repeat: int) -> dict:
    frames = {s: peers.load_csvdir(s) for s in ("AAPL", "IBM", "KO", "MSFT")}
    kw = dict(fast=10, slow=30, cash=100_000.0, invest=0.9, integer=False)
    panels = {s: peers.single_name_panel(df, s) for s, df in frames.items()}
    from workers.engine.backtest.config import BacktestConfig as Cfg
    from workers.engine.costs import CostModel
    from workers.engine.rules import ma_crossover_weights

    cfg = Cfg(
        initial_cash=kw["cash"], costs=CostModel.zero(), participation=1.0, cash_buffer=0.1, governor=None
    )

    def ours_all():
        out = []
        for p in panels.values():
            w = ma_crossover_weights(p.close, fast=kw["fast"], slow=kw["slow"])
            out.append(run_backtest(p, cfg, targets=w).fill_records)
        return out

    def bt_all():
        return [peers.backtrader(df, **kw) for df in frames.values()]

    def vb_all():
        return [peers.vectorbt(df, **kw) for df in frames.values()]

    t0 = time.perf_counter()
    vb_all()
    vb_cold = time.perf_counter() - t0
    ours_all()
    t_ours, _ = best_of(ours_all, repeat)
    t_bt, _ = best_of(bt_all, repeat)
    t_vb, _ = best_of(vb_all, repeat)
    same = True
    for df in frames.values():
        a, b, c = peers.ours(df, **kw), peers.backtrader(df, **kw), peers.vectorbt(df, **kw)
        for other in (b, c):
            same &= [(d, s) for d, s, _ in a.trades] == [(d, s) for d, s, _ in other.trades]
            same &= all(
                np.isclose(x[2], y[2], rtol=1e-12) for x, y in zip(a.trades, other.trades, strict=True)
            )
            same &= bool(np.isclose(a.final_equity, other.final_equity, rtol=1e-9))
    bars = sum(len(df) for df in frames.values())
    log(
        f"peers ({bars} bars over 4 symbols): ours {t_ours * 1000:.2f} ms, backtrader {t_bt * 1000:.1f} ms, "
        f"vectorbt {t_vb * 1000:.1f} ms (cold {vb_cold:.1f}s), same trades: {same}"
    )
    return {
        "backtrader_ratio": round(t_bt / t_ours, 1),
        "vectorbt_ratio": round(t_vb / t_ours, 2),
        "same_trades": bool(same),
        "peer_ours_ms": round(t_ours * 1000, 3),
        "peer_backtrader_ms": round(t_bt * 1000, 2),
        "peer_vectorbt_ms": round(t_vb * 1000, 2),
        "vectorbt_cold_s": round(vb_cold, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--opt-bars", type=int, default=5402, help="rows of the daily set for the optimizer run")
    ap.add_argument("--opt-names", type=int, default=500)
    ap.add_argument("--skip-optimizer", action="store_true")
    args = ap.parse_args()

    figures: dict = {}
    log("loading the daily S&P 500 set ...")
    daily = load_daily_sp500()
    figures.update(sim_core(daily, args.repeat))
    figures.update(peer_ratios(max(args.repeat, 10)))
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
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
