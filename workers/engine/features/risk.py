"""Volatility features (realised, range-based, downside, vol of vol) and factor exposure vs the
benchmark (rolling beta, correlation, residual return, idiosyncratic vol). All per bar, not
annualised: the model sees one frequency at a time."""

from __future__ import annotations

import numpy as np

from .context import FeatureContext
from .ops import safe_div
from .registry import feature

VOL_WINDOWS = (5, 20, 60)
BETA_WINDOW = 60


def rvol(ctx: FeatureContext, w: int) -> np.ndarray:
    """Sample std of 1-bar log returns over w bars, as a full series (for vol of vol); the same
    memoised series the rvol_w feature reads in full mode."""
    return ctx.rolling("std", ctx.ret, w, key="ret")


def _register_rvol(w: int) -> None:
    @feature(f"rvol_{w}", lookback=w, kind="volatility")
    def realised_vol(ctx: FeatureContext) -> np.ndarray:
        """Realised volatility: std of the last w 1-bar log returns."""
        return ctx.window("std", ctx.ret, w, key="ret")


for _w in VOL_WINDOWS:
    _register_rvol(_w)


@feature("hl_range", lookback=0, kind="volatility")
def hl_range(ctx: FeatureContext) -> np.ndarray:
    """log(high / low) of the bar."""
    return np.log(ctx.now(ctx.high)) - np.log(ctx.now(ctx.low))


def _log_hl(ctx: FeatureContext) -> np.ndarray:
    """log(high / low) per bar, every row (shared by the range-based volatility estimators)."""
    return ctx.memo("log_hl", lambda: np.log(ctx.high) - np.log(ctx.low))


@feature("parkinson_20", lookback=19, kind="volatility")
def parkinson_20(ctx: FeatureContext) -> np.ndarray:
    """Parkinson range volatility over 20 bars: sqrt(mean(log(H/L)^2) / (4 ln 2))."""
    hl = _log_hl(ctx)
    return np.sqrt(ctx.window("mean", hl * hl, 20) / (4.0 * np.log(2.0)))


@feature("garman_klass_20", lookback=19, kind="volatility")
def garman_klass_20(ctx: FeatureContext) -> np.ndarray:
    """Garman-Klass volatility over 20 bars: sqrt(mean(0.5 log(H/L)^2 - (2 ln2 - 1) log(C/O)^2)),
    floored at 0 before the root (the estimator can dip negative on tiny-range bars)."""
    hl = _log_hl(ctx)
    co = ctx.log_close - np.log(ctx.open)
    var = ctx.window("mean", 0.5 * hl * hl - (2.0 * np.log(2.0) - 1.0) * co * co, 20)
    return np.sqrt(np.maximum(var, 0.0))


@feature("downside_vol_20", lookback=20, kind="volatility")
def downside_vol_20(ctx: FeatureContext) -> np.ndarray:
    """Downside semi-deviation: sqrt(mean(min(r, 0)^2)) over 20 bars."""
    neg = np.minimum(ctx.ret, 0.0)
    return np.sqrt(ctx.window("mean", neg * neg, 20))


@feature("vol_of_vol_40", lookback=59, kind="volatility")
def vol_of_vol_40(ctx: FeatureContext) -> np.ndarray:
    """Coefficient of variation of the 20-bar realised vol over the last 40 bars (lookback 59: it
    shares the live update's 61-bar tail with the other 60-bar features)."""
    v = rvol(ctx, 20)
    return safe_div(ctx.window("std", v, 40), ctx.window("mean", v, 40))


@feature("vol_ratio_5_60", lookback=60, kind="volatility")
def vol_ratio_5_60(ctx: FeatureContext) -> np.ndarray:
    """Short over long realised vol (> 1: volatility expanding)."""
    return safe_div(ctx.window("std", ctx.ret, 5, key="ret"), ctx.window("std", ctx.ret, 60, key="ret"))


# --- factor exposure vs the benchmark ----------------------------------------------------------


def _beta_moments(ctx: FeatureContext) -> dict[str, np.ndarray]:
    """Rolling first and second moments of (stock, benchmark) returns over windows where BOTH exist."""

    def make() -> dict[str, np.ndarray]:
        both = np.isfinite(ctx.ret) & np.isfinite(ctx.bench_ret)[:, None]
        x = np.where(both, ctx.ret, np.nan)
        y = np.where(both, ctx.bench_ret[:, None], np.nan)
        w = BETA_WINDOW
        mx, my = ctx.window("mean", x, w), ctx.window("mean", y, w)
        cov = ctx.window("mean", x * y, w) - mx * my
        var_x = np.maximum(ctx.window("mean", x * x, w) - mx * mx, 0.0)
        var_y = np.maximum(ctx.window("mean", y * y, w) - my * my, 0.0)
        return {"cov": cov, "var_x": var_x, "var_y": var_y}

    return ctx.memo("beta_moments", make)


@feature("beta_60", lookback=BETA_WINDOW, kind="factor")
def beta_60(ctx: FeatureContext) -> np.ndarray:
    """Rolling 60-bar beta of the name's 1-bar log returns on the benchmark's."""
    m = _beta_moments(ctx)
    return safe_div(m["cov"], m["var_y"])


@feature("corr_mkt_60", lookback=BETA_WINDOW, kind="factor")
def corr_mkt_60(ctx: FeatureContext) -> np.ndarray:
    """Rolling 60-bar correlation with the benchmark."""
    m = _beta_moments(ctx)
    return np.clip(safe_div(m["cov"], np.sqrt(m["var_x"] * m["var_y"])), -1.0, 1.0)


@feature("idio_vol_60", lookback=BETA_WINDOW, kind="factor")
def idio_vol_60(ctx: FeatureContext) -> np.ndarray:
    """Residual (idiosyncratic) vol after removing the 60-bar beta exposure: sqrt(var_x - beta^2 var_y)."""
    m = _beta_moments(ctx)
    beta = safe_div(m["cov"], m["var_y"])
    return np.sqrt(np.maximum(m["var_x"] - beta * beta * m["var_y"], 0.0))


def _register_resid(k: int) -> None:
    @feature(f"resid_ret_{k}", lookback=BETA_WINDOW, kind="factor", depends=("beta_60",))
    def resid_ret(ctx: FeatureContext) -> np.ndarray:
        """k-bar log return minus beta_60 times the benchmark's k-bar log return."""
        stock = ctx.now(ctx.log_close) - ctx.lagged(ctx.log_close, k)
        bench = ctx.now(ctx.bench_log) - ctx.lagged(ctx.bench_log, k)
        return stock - ctx.feature("beta_60") * bench[:, None]


for _k in (5, 20):
    _register_resid(_k)
