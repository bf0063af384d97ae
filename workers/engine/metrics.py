"""Performance metrics of a return series, with the conventions of empyrical(-reloaded) / zipline.

Why these conventions: they are what quantstats, ffn and zipline print as well (see
../shared/data/reference/metrics_side_by_side_zipline_examples.csv), so our numbers can be put
next to theirs without footnotes. Tests check them against empyrical to 1e-9 on real returns.

- Annualisation uses the bar frequency explicitly: `periods_per_year` (Panel.periods_per_year:
  252 for daily bars, 252 x 7 for hourly bars). Nothing assumes daily.
- Volatility: sample std (ddof=1) x sqrt(ppy).
- Sharpe: mean(r - rf) / std(r - rf, ddof=1) x sqrt(ppy), rf per bar (default 0).
- Sortino: mean(r - MAR) x ppy / (sqrt(mean(min(r - MAR, 0)^2)) x sqrt(ppy)): the downside
  deviation averages over ALL bars (zeros for bars above the MAR), not only the losing ones.
- CAGR ("annual return"): (1 + total)^(ppy / n) - 1 with n the number of return bars (not
  calendar time; ffn uses calendar days and differs slightly).
- Max drawdown: the worst (equity / running peak - 1), with the starting value counted as a peak,
  so a loss on the first bar is a drawdown. Reported as a negative number, as empyrical does.
- Drawdown duration: the longest run of bars below the previous peak (to recovery, or to the end).
- Calmar: CAGR / |max drawdown| (NaN without drawdown).
- Excess vs benchmark: active = r - b on bars where both are known; tracking error =
  std(active, ddof=1) x sqrt(ppy); information ratio = mean(active) / std(active, ddof=1) x
  sqrt(ppy) (empyrical's excess_sharpe, annualised); beta = cov(r, b) / var(b) (population
  moments, as empyrical); alpha = (1 + mean(r - beta b))^ppy - 1.
- Hit rate: share of bars with a positive return among the bars with a non-zero return.
- Turnover: mean one-way traded notional / equity per bar, and that x ppy per year.
- Cost drag: mean(cost_t / equity_{t-1}) x ppy x 1e4, in bps per year.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .market import MARKET_TZ


class MetricsError(ValueError):
    """Returns that metrics refuse to summarise (empty, NaN, wrong shape), named."""


def _returns(returns) -> np.ndarray:
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise MetricsError(f"returns must be one-dimensional, got shape {r.shape}")
    if len(r) == 0:
        raise MetricsError("returns are empty")
    if not np.isfinite(r).all():
        raise MetricsError(f"returns contain {int((~np.isfinite(r)).sum())} non-finite values")
    if (r <= -1).any():
        raise MetricsError("returns contain a loss of 100% or more")
    return r


def total_return(returns) -> float:
    return float(np.prod(1.0 + _returns(returns)) - 1.0)


def cagr(returns, *, periods_per_year: int) -> float:
    r = _returns(returns)
    return float((1.0 + total_return(r)) ** (periods_per_year / len(r)) - 1.0)


def annual_volatility(returns, *, periods_per_year: int) -> float:
    r = _returns(returns)
    return float(np.std(r, ddof=1) * np.sqrt(periods_per_year)) if len(r) > 1 else float("nan")


def sharpe(returns, *, periods_per_year: int, risk_free: float = 0.0) -> float:
    r = _returns(returns) - risk_free
    if len(r) < 2:
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean(r) / np.std(r, ddof=1) * np.sqrt(periods_per_year))


def downside_deviation(returns, *, periods_per_year: int, mar: float = 0.0) -> float:
    d = np.minimum(_returns(returns) - mar, 0.0)
    return float(np.sqrt(np.mean(d * d)) * np.sqrt(periods_per_year))


def sortino(returns, *, periods_per_year: int, mar: float = 0.0) -> float:
    r = _returns(returns)
    if len(r) < 2:
        return float("nan")
    dd = downside_deviation(r, periods_per_year=periods_per_year, mar=mar)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean(r - mar) * periods_per_year / dd)


def drawdown_series(returns) -> np.ndarray:
    """(n,) equity / running peak - 1, the start (value 1) counting as a peak."""
    wealth = np.concatenate(([1.0], np.cumprod(1.0 + _returns(returns))))
    peak = np.maximum.accumulate(wealth)
    return (wealth / peak - 1.0)[1:]


def max_drawdown(returns) -> float:
    """Worst drawdown, negative (empyrical's sign); empyrical computes it from a start of 100 as
    (cum - peak) / peak, which is the same ratio."""
    wealth = np.concatenate(([100.0], 100.0 * np.cumprod(1.0 + _returns(returns))))
    peak = np.maximum.accumulate(wealth)
    return float(np.min((wealth - peak) / peak))


def max_drawdown_duration(returns) -> int:
    """Longest number of consecutive bars spent below a previous peak."""
    under = drawdown_series(returns) < 0
    if not under.any():
        return 0
    # lengths of runs of True
    edges = np.diff(np.concatenate(([0], under.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max())


def calmar(returns, *, periods_per_year: int) -> float:
    mdd = max_drawdown(returns)
    return float(cagr(returns, periods_per_year=periods_per_year) / abs(mdd)) if mdd < 0 else float("nan")


def hit_rate(returns) -> float:
    r = _returns(returns)
    moved = r != 0
    return float((r[moved] > 0).mean()) if moved.any() else float("nan")


def _aligned(returns, benchmark) -> tuple[np.ndarray, np.ndarray]:
    r = _returns(returns)
    b = np.asarray(benchmark, dtype=np.float64)
    if b.shape != r.shape:
        raise MetricsError(f"benchmark returns must have shape {r.shape}, got {b.shape}")
    known = np.isfinite(b)
    if known.sum() < 2:
        raise MetricsError("fewer than two bars with a known benchmark return")
    return r[known], b[known]


def tracking_error(returns, benchmark, *, periods_per_year: int) -> float:
    r, b = _aligned(returns, benchmark)
    return float(np.std(r - b, ddof=1) * np.sqrt(periods_per_year))


def information_ratio(returns, benchmark, *, periods_per_year: int) -> float:
    r, b = _aligned(returns, benchmark)
    active = r - b
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean(active) / np.std(active, ddof=1) * np.sqrt(periods_per_year))


def alpha_beta(returns, benchmark, *, periods_per_year: int, risk_free: float = 0.0) -> tuple[float, float]:
    r, b = _aligned(returns, benchmark)
    r, b = r - risk_free, b - risk_free
    resid = b - b.mean()
    var = np.mean(resid * resid)
    beta = float(np.mean(resid * r) / var) if var >= 1e-30 else float("nan")
    alpha = float((np.mean(r - beta * b) + 1.0) ** periods_per_year - 1.0)
    return alpha, beta


def monthly_returns(returns, index) -> pd.DataFrame:
    """Compounded returns per calendar month (New York dates of the UTC bar stamps): one row per
    year, columns 1..12 and 'year' (the year's compounded return over the months present)."""
    r = _returns(returns)
    idx = pd.DatetimeIndex(index)
    if len(idx) != len(r):
        raise MetricsError(f"index has {len(idx)} stamps for {len(r)} returns")
    idx = (idx.tz_localize("UTC") if idx.tz is None else idx).tz_convert(MARKET_TZ)
    s = pd.Series(1.0 + r, index=idx)
    monthly = s.groupby([idx.year, idx.month]).prod() - 1.0
    table = monthly.unstack(level=1).reindex(columns=range(1, 13))
    table.index.name, table.columns.name = "year", "month"
    table["year"] = (1.0 + table[list(range(1, 13))]).prod(axis=1, skipna=True) - 1.0
    return table


def performance_summary(
    returns,
    *,
    periods_per_year: int,
    benchmark=None,
    turnover=None,
    exposure=None,
    cost=None,
    equity_before=None,
    risk_free: float = 0.0,
) -> dict[str, float]:
    """All scalar metrics in one dict. `cost` and `equity_before` are per-bar (cost paid at t and
    equity at t-1) for the cost drag; `turnover` and `exposure` are per-bar series."""
    r = _returns(returns)
    ppy = periods_per_year
    out: dict[str, float] = {
        "bars": len(r),
        "periods_per_year": ppy,
        "total_return": total_return(r),
        "cagr": cagr(r, periods_per_year=ppy),
        "annual_volatility": annual_volatility(r, periods_per_year=ppy),
        "sharpe": sharpe(r, periods_per_year=ppy, risk_free=risk_free),
        "sortino": sortino(r, periods_per_year=ppy, mar=risk_free),
        "max_drawdown": max_drawdown(r),
        "max_drawdown_duration_bars": max_drawdown_duration(r),
        "calmar": calmar(r, periods_per_year=ppy),
        "hit_rate": hit_rate(r),
    }
    if turnover is not None:
        t = np.asarray(turnover, dtype=np.float64)
        out["turnover_per_bar"] = float(np.mean(t))
        out["turnover_annual"] = float(np.mean(t) * ppy)
    if exposure is not None:
        out["average_exposure"] = float(np.mean(np.asarray(exposure, dtype=np.float64)))
    if cost is not None and equity_before is not None:
        drag = np.asarray(cost, dtype=np.float64) / np.asarray(equity_before, dtype=np.float64)
        out["cost_drag_bps_per_year"] = float(np.mean(drag) * ppy * 1e4)
    if benchmark is not None:
        b = np.asarray(benchmark, dtype=np.float64)
        alpha, beta = alpha_beta(r, b, periods_per_year=ppy, risk_free=risk_free)
        known = np.isfinite(b)
        out.update(
            benchmark_total_return=total_return(b[known]),
            excess_total_return=out["total_return"] - total_return(b[known]),
            tracking_error=tracking_error(r, b, periods_per_year=ppy),
            information_ratio=information_ratio(r, b, periods_per_year=ppy),
            alpha=alpha,
            beta=beta,
        )
    return out


def backtest_metrics(result, *, risk_free: float = 0.0) -> dict[str, float]:
    """`performance_summary` of a BacktestResult, against the panel's benchmark when it has one."""
    panel = result.panel
    bench = panel.benchmark
    bench_ret = np.full(len(bench), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        bench_ret[1:] = bench[1:] / bench[:-1] - 1.0
    bench_ret[0] = 0.0 if np.isfinite(bench[0]) else np.nan  # the first bar: no trade, no return
    has_bench = np.isfinite(bench_ret).sum() >= 2
    equity_before = np.concatenate(([result.config.initial_cash], result.equity[:-1]))
    return performance_summary(
        result.returns,
        periods_per_year=panel.periods_per_year,
        benchmark=bench_ret if has_bench else None,
        turnover=result.turnover,
        exposure=result.exposure,
        cost=result.cost_paid,
        equity_before=equity_before,
        risk_free=risk_free,
    )
