"""Signal quality report: does the score rank next period's returns, and how steadily?

All statistics are cross-sectional per bar over members with a finite signal and a finite label,
then aggregated over bars (the Qlib / Alphalens convention):

- IC: Pearson correlation of signal and label across names at bar t. Rank IC: Spearman (Pearson
  of average-tie ranks). Bars with fewer than `min_names` valid names are left out (NaN).
- ICIR = mean(IC) / std(IC) over bars, unannualised (Qlib's convention). `*_icir_annualised`
  multiplies by sqrt(periods_per_year / horizon): daily ICs of a 5-bar label overlap, so counting
  only the non-overlapping horizons per year is the honest annualisation (sqrt(252) would
  overstate it by sqrt(5)). `rank_ic_tstat` likewise uses n_periods / horizon independent draws.
- Quantile returns: per bar, names are bucketed by signal rank into `n_quantiles` equal groups,
  the label is averaged per bucket, then bucket means are averaged over bars. The top-minus-bottom
  spread is per bar then averaged; it is a gross `horizon`-bar excess return (no costs).
- Hit rate: share of valid cells where the signal and the label fall on the same side of their
  cross-sectional medians (a market-wide move cannot make every name a "hit").
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import rankdata

from .config import ModelError


def _row_corr(a: np.ndarray, b: np.ndarray, valid: np.ndarray) -> np.ndarray:
    n = valid.sum(axis=1)
    a0 = np.where(valid, a, 0.0)
    b0 = np.where(valid, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        am = a0.sum(axis=1, keepdims=True) / n[:, None]
        bm = b0.sum(axis=1, keepdims=True) / n[:, None]
        da = np.where(valid, a - am, 0.0)
        db = np.where(valid, b - bm, 0.0)
        num = (da * db).sum(axis=1)
        den = np.sqrt((da * da).sum(axis=1) * (db * db).sum(axis=1))
        return np.where(den > 0, num / den, np.nan)


def _stats(x: np.ndarray) -> tuple[float, float, int]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan"), 0
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else float("nan"), int(x.size)


@dataclass
class SignalReport:
    ic: np.ndarray  # (T,) per-bar Pearson IC, NaN where not evaluated
    rank_ic: np.ndarray  # (T,) per-bar Spearman IC
    n_names: np.ndarray  # (T,) valid names per bar
    quantile_returns: np.ndarray  # (Q,) mean label per signal quantile, bottom first
    spread: np.ndarray  # (T,) top-minus-bottom quantile label per bar
    summary: dict[str, Any] = field(default_factory=dict)


def top_features(importance: dict[str, float], n: int = 15) -> dict[str, float]:
    """The `n` most important features, most important first (ties by name, so the pick is
    stable). Models report importance in catalogue order; the first `n` of that order are not
    the most important ones."""
    ranked = sorted(importance.items(), key=lambda kv: (-kv[1], kv[0]))
    return dict(ranked[:n])


def signal_report(
    *,
    signal: np.ndarray,
    label: np.ndarray,
    member: np.ndarray,
    horizon: int,
    periods_per_year: int = 252,
    n_quantiles: int = 10,
    min_names: int = 20,
    index: np.ndarray | None = None,
    importance: dict[str, float] | None = None,
) -> SignalReport:
    """Evaluate a (T, N) signal against the (T, N) forward label it was meant to predict."""
    signal = np.asarray(signal, dtype=np.float64)
    label = np.asarray(label, dtype=np.float64)
    if signal.ndim != 2 or signal.shape != label.shape or member.shape != signal.shape:
        raise ModelError(
            f"signal {signal.shape}, label {label.shape} and member {member.shape} must be equal (T, N)"
        )
    if n_quantiles < 2:
        raise ModelError(f"n_quantiles must be >= 2, got {n_quantiles}")
    if min_names < max(3, n_quantiles):
        raise ModelError(f"min_names must be >= max(3, n_quantiles)={max(3, n_quantiles)}, got {min_names}")
    if horizon < 1:
        raise ModelError(f"horizon must be >= 1, got {horizon}")
    if np.isinf(signal).any() or np.isinf(label).any():
        raise ModelError("signal or label contains infinite values")
    T, _ = signal.shape
    valid = member.astype(bool) & np.isfinite(signal) & np.isfinite(label)
    n_names = valid.sum(axis=1)
    rows = n_names >= min_names
    valid &= rows[:, None]
    if not rows.any():
        raise ModelError(f"no bar has at least {min_names} members with a finite signal and label")

    ic = np.where(rows, _row_corr(signal, label, valid), np.nan)
    rs = rankdata(np.where(valid, signal, np.nan), axis=1, nan_policy="omit")
    rl = rankdata(np.where(valid, label, np.nan), axis=1, nan_policy="omit")
    rank_ic = np.where(rows, _row_corr(rs, rl, valid), np.nan)

    # Quantile buckets from the signal's rank within each bar.
    with np.errstate(invalid="ignore"):
        pct = (rs - 0.5) / n_names[:, None]
    bucket = np.where(
        valid, np.clip(np.floor(np.nan_to_num(pct) * n_quantiles), 0, n_quantiles - 1), 0
    ).astype(int)
    flat = (np.arange(T)[:, None] * n_quantiles + bucket)[valid]
    sums = np.bincount(flat, weights=label[valid], minlength=T * n_quantiles).reshape(T, n_quantiles)
    counts = np.bincount(flat, minlength=T * n_quantiles).reshape(T, n_quantiles)
    with np.errstate(invalid="ignore", divide="ignore"):
        qmeans = np.where(counts > 0, sums / counts, np.nan)
    qmeans[~rows] = np.nan
    quantile_returns = np.array(
        [float(np.nanmean(c)) if np.isfinite(c).any() else float("nan") for c in qmeans.T]
    )
    spread = qmeans[:, -1] - qmeans[:, 0]

    # Hit rate: same side of the cross-sectional median.
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows (skipped bars)
        sm = np.nanmedian(np.where(valid, signal, np.nan), axis=1, keepdims=True)
        lm = np.nanmedian(np.where(valid, label, np.nan), axis=1, keepdims=True)
    ss = np.sign(signal - sm)
    ls = np.sign(label - lm)
    decided = valid & (ss != 0) & (ls != 0)
    hit_rate = float((ss == ls)[decided].mean()) if decided.any() else float("nan")

    mean_ic, std_ic, n_ic = _stats(ic)
    mean_ric, std_ric, n_ric = _stats(rank_ic)
    mean_sp, std_sp, _ = _stats(spread)
    ann = np.sqrt(periods_per_year / horizon)
    icir = mean_ic / std_ic if std_ic and np.isfinite(std_ic) and std_ic > 0 else float("nan")
    ricir = mean_ric / std_ric if std_ric and np.isfinite(std_ric) and std_ric > 0 else float("nan")
    summary: dict[str, Any] = {
        "n_periods": n_ric,
        "mean_names": float(n_names[rows].mean()),
        "ic": mean_ic,
        "ic_std": std_ic,
        "icir": icir,
        "icir_annualised": icir * ann,
        "rank_ic": mean_ric,
        "rank_ic_std": std_ric,
        "rank_icir": ricir,
        "rank_icir_annualised": ricir * ann,
        "rank_ic_tstat": ricir * np.sqrt(n_ric / horizon) if n_ric else float("nan"),
        "rank_ic_positive_share": float((rank_ic[np.isfinite(rank_ic)] > 0).mean()),
        "hit_rate": hit_rate,
        "quantile_returns": [float(q) for q in quantile_returns],
        "top_bottom_spread": mean_sp,
        "top_bottom_spread_std": std_sp,
        "top_bottom_spread_annualised_gross": mean_sp * periods_per_year / horizon,
        "horizon": horizon,
        "n_quantiles": n_quantiles,
    }
    if index is not None:
        years = np.asarray(index).astype("datetime64[Y]").astype(int) + 1970
        by_year = {}
        for yr in np.unique(years[rows]):
            sel = (years == yr) & np.isfinite(rank_ic)
            if sel.any():
                by_year[int(yr)] = float(rank_ic[sel].mean())
        summary["rank_ic_by_year"] = by_year
    if importance is not None:
        summary["feature_importance"] = dict(importance)
    return SignalReport(
        ic=ic,
        rank_ic=rank_ic,
        n_names=n_names,
        quantile_returns=quantile_returns,
        spread=spread,
        summary=summary,
    )
