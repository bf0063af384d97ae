"""Engine results (float arrays) -> what a run row stores: the metrics JSON the promotion gates
and the pages read, and compact result series for the plots. NaN/inf become null (JSON and jsonb
cannot hold them); full-precision floats are kept for the equity curve so a re-run can be compared
exactly with the stored one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from apps.marketdata.selectors.panel import BENCHMARK_SYMBOL
from workers.engine.backtest.governor import STATES
from workers.engine.decide.research import EngineOutcome
from workers.engine.metrics import backtest_metrics, monthly_returns, performance_summary
from workers.engine.serialize import to_json_list, to_json_number, to_json_value

from ..sectors import sector_labels

MAX_FILLS_STORED = 500  # the most recent fills kept on the row (the total count is in metrics)
UNKNOWN_SECTOR = "unknown"
MAX_SAMPLED_POINTS = 400  # sector weights / IC are stored on at most this many bars


def _iso(index: np.ndarray) -> list[str]:
    return [str(s) for s in np.datetime_as_string(index, unit="m")]


def _sample_rows(n: int) -> np.ndarray:
    return (
        np.unique(np.linspace(0, n - 1, min(n, MAX_SAMPLED_POINTS)).round().astype(int))
        if n
        else np.array([], int)
    )


def _sector_weights(result, rows: np.ndarray) -> dict[str, list]:
    """Weight per sector on the sampled bars, each name in its sector AT that bar where a dated
    sector history exists (apps.research.sectors), else in its instrument sector."""
    panel = result.panel
    w = np.nan_to_num(result.realised_weights[rows])
    static = [panel.sector_names[k] if k >= 0 else UNKNOWN_SECTOR for k in panel.sector]
    days = [str(d) for d in np.datetime_as_string(panel.index[rows], unit="D")]
    labels = sector_labels(list(panel.symbols), static, days)
    names = sorted({str(x) for x in labels.flat} - {UNKNOWN_SECTOR})
    out: dict[str, list] = {}
    for name in [*names, UNKNOWN_SECTOR]:
        series = (w * (labels == name)).sum(axis=1)
        if (series > 1e-9).any():
            out[name] = to_json_list(series)
    return out


def _risk_states(result) -> dict:
    codes = result.risk_state
    changes = np.flatnonzero(np.diff(codes.astype(np.int64))) + 1
    idx = _iso(result.panel.index)
    spans = [{"from": idx[0], "state": STATES[int(codes[0])]}] if len(codes) else []
    spans += [{"from": idx[int(t)], "state": STATES[int(codes[t])]} for t in changes]
    counts = {name: int((codes == k).sum()) for k, name in enumerate(STATES)}
    return {"spans": spans, "bars_in_state": counts}


def _fills(result) -> list[dict]:
    f = result.fill_records[-MAX_FILLS_STORED:]
    idx = _iso(result.panel.index)
    syms = result.panel.symbols
    return [
        {
            "ts": idx[int(r["bar"])],
            "symbol": syms[int(r["symbol"])],
            "shares": to_json_number(r["shares"]),
            "price": to_json_number(r["price"]),
            "notional": to_json_number(r["notional"]),
            "slippage": to_json_number(r["slippage"]),
            "spread": to_json_number(r["spread"]),
            "impact": to_json_number(r["impact"]),
            "commission": to_json_number(r["commission"]),
            "cost": to_json_number(r["cost"]),
        }
        for r in f
    ]


def outcome_to_storage(outcome: EngineOutcome, *, extra_metrics: dict | None = None) -> tuple[dict, dict]:
    """(metrics, series) for a BacktestRun."""
    res = outcome.result
    panel = res.panel
    initial = float(res.config.initial_cash)
    metrics = _gate_conventions(backtest_metrics(res))
    costs = res.cost_breakdown()
    metrics.update(
        {
            "n_trades": int(np.count_nonzero(res.fills)),
            "oos": bool(outcome.oos),
            "final_equity": float(res.equity[-1]),
            "initial_cash": initial,
            "total_cost": float(costs["cost"]),
            "start": _iso(panel.index[:1])[0],
            "end": _iso(panel.index[-1:])[0],
            "n_symbols": len(panel.symbols),
        }
    )
    if outcome.report:
        summary = outcome.report["summary"]
        for key in ("ic", "rank_ic", "rank_icir", "hit_rate"):
            if key in summary:
                metrics[f"signal_{key}"] = summary[key]
    bench = panel.benchmark
    first = np.flatnonzero(np.isfinite(bench))
    # Said in the metrics, not only on the chart: a window the benchmark does not cover has no
    # benchmark-relative figures, and a reader must not take their absence for a zero.
    metrics["benchmark_symbol"] = BENCHMARK_SYMBOL
    metrics["benchmark_bars"] = int(first.size)
    metrics.update(extra_metrics or {})
    bench_equity = (
        pd.Series(bench).ffill().to_numpy() / bench[first[0]] * initial
        if first.size
        else np.full(len(bench), np.nan)
    )
    rows = _sample_rows(len(panel.index))
    series = {
        "index": _iso(panel.index),
        "equity": to_json_list(res.equity),
        "benchmark": to_json_list(bench_equity) if first.size else [],
        "drawdown": to_json_list(1.0 - res.equity / np.maximum.accumulate(np.maximum(res.equity, initial))),
        "exposure": to_json_list(res.exposure),
        "sector_index": [_iso(panel.index)[int(t)] for t in rows],
        "sector_weights": _sector_weights(res, rows),
        "risk": _risk_states(res),
        "monthly": _monthly(res),
        "costs": {k: float(v) for k, v in costs.items()},
        "fills": _fills(res),
        "walk_forward": to_json_value(outcome.walk_forward),
    }
    if outcome.report:
        ic = np.asarray(outcome.report["ic"])[outcome.start_row :]
        ic_rows = _sample_rows(len(ic))
        # A rolling mean makes the noisy per-bar rank IC readable on a chart.
        smooth = pd.Series(ic).rolling(20, min_periods=5).mean().to_numpy()
        series["ic"] = {
            "index": [series["index"][int(t)] for t in ic_rows],
            "rank_ic": to_json_list(ic[ic_rows]),
            "rank_ic_rolling20": to_json_list(smooth[ic_rows]),
            "summary": to_json_value(outcome.report["summary"]),
        }
    return {k: to_json_value(v) for k, v in metrics.items()}, series


def _gate_conventions(metrics: dict) -> dict:
    """The engine reports max drawdown as a negative number (empyrical); runs store it as a
    positive fraction, which is what the promotion gates compare with their limit."""
    out = dict(metrics)
    if out.get("max_drawdown") is not None:
        out["max_drawdown"] = abs(out["max_drawdown"])
    return out


def _monthly(res) -> dict[str, dict[str, float | None]]:
    """{year: {"1".."12": return, "year": return}} (New York months)."""
    table = monthly_returns(res.returns, res.panel.index)
    return {str(year): {str(k): to_json_number(v) for k, v in row.items()} for year, row in table.iterrows()}


def segment_metrics(outcome: EngineOutcome, *, start: int, stop: int) -> dict:
    """Metrics of bars [start, stop) only (for in-sample / hold-out splits of a search)."""
    res = outcome.result
    m = performance_summary(res.returns[start:stop], periods_per_year=res.panel.periods_per_year)
    m["n_trades"] = int(np.count_nonzero(res.fills[start:stop]))
    return to_json_value(_gate_conventions(m))


EXPORTS = ("equity", "fills", "weights")
FILL_COLUMNS = (
    "ts",
    "symbol",
    "shares",
    "price",
    "notional",
    "slippage",
    "spread",
    "impact",
    "commission",
    "cost",
)


def export_table(series: dict, what: str) -> tuple[list[str], list[list]]:
    """(header, rows) of one stored result series, for a CSV download: `equity` (every bar:
    equity, benchmark equity, drawdown and exposure), `fills` (the stored fills, the most recent
    MAX_FILLS_STORED) or `weights` (weight per sector, on the stored sample of bars)."""
    s = series or {}
    if what == "equity":
        index = s.get("index", [])
        cols = [
            ("equity_usd", "equity"),
            ("benchmark_equity_usd", "benchmark"),
            ("drawdown", "drawdown"),
            ("exposure", "exposure"),
        ]
        present = [(name, s.get(key) or []) for name, key in cols]
        rows = [
            [ts, *(vals[i] if i < len(vals) else None for _, vals in present)] for i, ts in enumerate(index)
        ]
        return ["ts_utc", *(name for name, _ in present)], rows
    if what == "fills":
        return [f"{c}_utc" if c == "ts" else c for c in FILL_COLUMNS], [
            [f.get(c) for c in FILL_COLUMNS] for f in s.get("fills", [])
        ]
    if what == "weights":
        sectors = s.get("sector_weights", {})
        names = list(sectors)
        rows = [
            [ts, *(sectors[n][i] if i < len(sectors[n]) else None for n in names)]
            for i, ts in enumerate(s.get("sector_index", []))
        ]
        return ["ts_utc", *names], rows
    raise ValueError(f"unknown export {what!r}; expected one of {', '.join(EXPORTS)}")
