"""Feature library throughput on the real 504-stock daily S&P 500 set (../shared/data).

Measures (1) the full computation of every registered feature over ~5,400 bars x 503 names, float32
output, and (2) the live incremental update: all features at ONE new bar for 500 names from the
trailing `required_lookback + 1` bars (median of repeated calls). Also checks the incremental row
equals the full computation's last row. Last line: one JSON object of the figures.

Options: `--threads N` (compute_features' n_threads; default its default, 2); `--profile` first
prints the top costs: each feature timed alone in registration order on one context (so a feature
pays for the shared intermediates it is the first to need), and cProfile's top functions."""

from __future__ import annotations

import argparse
import cProfile
import inspect
import json
import os
import pstats
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._data import DAILY_PARQUET, load_daily_sp500  # noqa: E402
from workers.engine.features import (  # noqa: E402
    compute_features,
    compute_features_last,
    feature_names,
    required_lookback,
)


def profile(panel, names: list[str], top: int = 20) -> None:
    """Print where the full computation's time goes (single-threaded, so the costs add up)."""
    from workers.engine.features.context import FeatureContext  # noqa: PLC0415  (bench-only internals)

    ctx = FeatureContext(panel)
    out = np.empty(panel.shape, dtype=np.float32)
    costs = []
    for name in names:
        t0 = time.perf_counter()
        ctx.evaluate(name, out=out)
        costs.append((time.perf_counter() - t0, name))
    total = sum(c for c, _ in costs)
    print(f"profile: {len(names)} features {total:.2f}s on one context (shared intermediates paid once)")
    for cost, name in sorted(costs, reverse=True)[:top]:
        print(f"  {cost * 1000:8.1f} ms  {cost / total:5.1%}  {name}")
    prof = cProfile.Profile()
    prof.enable()
    compute_features(panel, names, n_threads=1)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_threads = inspect.signature(compute_features).parameters["n_threads"].default
    parser.add_argument("--threads", type=int, default=default_threads, help="compute_features n_threads")
    parser.add_argument("--profile", action="store_true", help="print per-feature and cProfile top costs")
    args = parser.parse_args()
    if not DAILY_PARQUET.exists():
        sys.exit(f"missing {DAILY_PARQUET}: the shared data folder is required for this benchmark")
    t0 = time.perf_counter()
    panel = load_daily_sp500()
    load_s = time.perf_counter() - t0
    names = feature_names()
    rows = int(panel.has_bar.sum())
    if args.profile:
        profile(panel, names)

    load_before = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    fs = compute_features(panel, names, dtype=np.float32, n_threads=args.threads)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0

    lookback = required_lookback(names)
    T = len(panel.index)
    tail = panel.slice_rows(T, start=T - (lookback + 1))  # the trailing window the live loop keeps
    compute_features_last(tail, names)  # warm-up
    timings, cpu_timings = [], []
    for _ in range(30):
        t1, c1 = time.perf_counter(), time.process_time()
        last = compute_features_last(tail, names)
        timings.append(time.perf_counter() - t1)
        cpu_timings.append(time.process_time() - c1)
    incremental_ms = float(np.median(timings) * 1000)

    full_last = compute_features(panel, names, dtype=np.float64).values[:, -1, :]
    both = np.isfinite(full_last) & np.isfinite(last)
    same_nan = bool((np.isfinite(full_last) == np.isfinite(last)).all())
    max_abs_diff = float(np.max(np.abs(full_last[both] - last[both]))) if both.any() else 0.0

    defined = float(np.isfinite(fs.values[:, panel.has_bar]).mean())
    print(f"panel {panel.shape} loaded in {load_s:.2f}s; {len(names)} features, lookback {lookback}")
    print(
        f"machine: 1-min load average {load_before:.1f} on {os.cpu_count()} CPUs (shared: wall times inflate)"
    )
    print(
        f"full ({args.threads} threads): {seconds:.2f}s wall, {cpu_seconds:.2f}s CPU ({rows / seconds / 1e6:.2f}M rows/s); defined {defined:.3f}"
    )
    print(
        f"incremental: median {incremental_ms:.2f} ms wall (min {min(timings) * 1000:.2f}), "
        f"median {np.median(cpu_timings) * 1000:.2f} ms CPU over 30 calls, N={panel.shape[1]}"
    )
    print(f"incremental == full last row: NaN pattern same={same_nan}, max |diff| {max_abs_diff:.3g}")
    print(
        json.dumps(
            {
                "features": len(names),
                "rows": rows,
                "seconds": round(seconds, 3),
                "incremental_ms": round(incremental_ms, 3),
                "cpu_seconds": round(cpu_seconds, 3),
                "n_threads": args.threads,
                "incremental_min_ms": round(min(timings) * 1000, 3),
                "incremental_cpu_ms": round(float(np.median(cpu_timings) * 1000), 3),
                "load_avg_1m": round(load_before, 2),
                "names": panel.shape[1],
                "incremental_max_abs_diff": max_abs_diff,
                "incremental_nan_pattern_equal": same_nan,
            }
        )
    )


if __name__ == "__main__":
    main()
