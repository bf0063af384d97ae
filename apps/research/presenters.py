"""What the research pages show, built from stored results: chart SVGs and metric table rows.
Presentation only (no queries, no writes); the views pick the run and call these."""

from __future__ import annotations

from django.utils.safestring import SafeString

from . import charts
from .models import BacktestRun

# The metrics tables' rows, in order; values are formatted by the `metric` template filter.
METRIC_LABELS = [
    ("total_return", "Total return"),
    ("cagr", "CAGR"),
    ("annual_volatility", "Volatility"),
    ("sharpe", "Sharpe"),
    ("sortino", "Sortino"),
    ("calmar", "Calmar"),
    ("max_drawdown", "Max drawdown"),
    ("max_drawdown_duration_bars", "Max DD duration (bars)"),
    ("hit_rate", "Hit rate"),
    ("turnover_annual", "Turnover / year"),
    ("average_exposure", "Average exposure"),
    ("cost_drag_bps_per_year", "Cost drag (bps/yr)"),
    ("benchmark_total_return", "Benchmark return"),
    ("information_ratio", "Information ratio"),
    ("tracking_error", "Tracking error"),
    ("n_trades", "Trades"),
    ("total_cost", "Total cost ($)"),
    ("final_equity", "Final equity ($)"),
    ("oos", "Out of sample"),
    ("signal_rank_ic", "Mean rank IC"),
    ("signal_rank_icir", "Rank ICIR"),
]


def metric_rows(*metrics: dict) -> list[tuple[str, str, list]]:
    """(label, metric key, raw values per run) for every metric any of the runs has."""
    return [
        (label, key, [(m or {}).get(key) for m in metrics])
        for key, label in METRIC_LABELS
        if any(key in (m or {}) for m in metrics)
    ]


def backtest_charts(run: BacktestRun) -> dict[str, SafeString]:
    """The charts of a finished backtest's page, from its stored series."""
    s = run.series or {}
    if not s.get("equity"):
        return {}
    benchmark = f"{run.metrics.get('benchmark_symbol', 'SPY')} (benchmark)"
    dd = [-(v or 0.0) for v in s.get("drawdown", [])]
    out = {
        "equity": charts.line_chart(
            s["index"],
            {"strategy": s["equity"], benchmark: s.get("benchmark", [])},
            title="Equity vs benchmark",
            fmt="money",
            unit="equity, USD",
        ),
        "drawdown": charts.area_chart(
            s["index"], dd, title="Drawdown", unit="% below the running peak", width=charts.HALF_W
        ),
        "monthly": charts.heatmap(s.get("monthly", {}), title="Monthly returns (%)"),
        "sectors": charts.stacked_area_chart(
            s.get("sector_index", []),
            s.get("sector_weights", {}),
            title="Weights by sector",
            unit="% of equity",
            width=charts.HALF_W,
        ),
        "costs": charts.bar_chart(
            [(k, v) for k, v in (s.get("costs") or {}).items() if k != "cost"], title="Cost breakdown"
        ),
    }
    if s.get("ic"):
        out["ic"] = charts.line_chart(
            s["ic"]["index"],
            {"rank IC (20-bar mean)": s["ic"]["rank_ic_rolling20"]},
            title="Rank IC",
            unit="Spearman rank correlation",
            width=charts.HALF_W,
        )
    return out


def compare_chart(runs: list[BacktestRun]) -> SafeString | None:
    """Equity curves of several backtests on one time axis (None when none has a curve)."""
    # Each run rebased to 1 at its start (runs with different cash compare) and placed on the
    # union of the runs' bar stamps, so runs of other windows or frequencies line up in time.
    curves = {}
    for run in runs:
        s = run.series or {}
        if s.get("equity"):
            start = s["equity"][0] or 1.0
            curves[f"#{run.pk} {run.strategy.name}"] = {
                ts: (v / start if v is not None else None)
                for ts, v in zip(s["index"], s["equity"], strict=False)
            }
    labels = sorted({ts for curve in curves.values() for ts in curve})
    series = {name: [curve.get(ts) for ts in labels] for name, curve in curves.items()}
    if not series:
        return None
    return charts.line_chart(
        labels, series, title="Equity (rebased to 1)", unit="equity / starting equity", connect_gaps=True
    )
