"""The venue's fill model is the backtest's, reused through the engine's own objects:

- `fill_settings` builds the engine's `BacktestConfig` (participation, integer shares, sigma
  window, `CostModel`) from an account's stored `fill_config`, so the engine validates it;
- `fill_market` lays the bars of the names being filled out as an engine `Panel` and runs the
  engine's `build_inputs` on it, which yields, per bar and name, exactly what the backtest's bar
  loop reads: whether a fill is possible (open known, volume > 0), the participation cap
  (`participation x volume`, floored in integer mode) and the impact coefficient (volatility of
  close-to-close returns known at the bar before, `CostModel.impact_coefficient`);
- `fill_cost` is `CostModel.total` of one fill.

The one difference from a backtest panel: the panel here spans only the names with open orders,
so a name's volatility window skips stamps at which it has no bar while other names of a
backtest's universe do (identical when the name has a bar at every stamp, as in the fixtures).
Split adjustment is not applied: fills are at the as-traded open, and a split inside the
volatility window would raise that name's impact.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.db.models import F, FloatField
from django.db.models.functions import Cast

from apps.marketdata.models import Bar
from workers.engine.backtest import BacktestConfig, build_inputs
from workers.engine.costs import CostModel
from workers.engine.market import OHLCV
from workers.engine.panel import Panel

# BacktestConfig fields the fills depend on (SimInputs.matches names the same ones), and the cost model's.
FILL_FIELDS = ("participation", "integer_shares", "sigma_window")
COST_FIELDS = ("slippage_bps", "half_spread_bps", "impact_eta", "commission_per_share", "commission_min")


def fill_config_from(config: BacktestConfig) -> dict[str, Any]:
    """What a venue account stores of a backtest config: the fields that decide fills."""
    return {
        **{f: getattr(config, f) for f in FILL_FIELDS},
        "costs": {f: getattr(config.costs, f) for f in COST_FIELDS},
    }


def fill_settings(fill_config: dict[str, Any]) -> BacktestConfig:
    """The stored fill config as the engine's BacktestConfig (validated by the engine)."""
    return BacktestConfig(
        **{f: fill_config[f] for f in FILL_FIELDS}, costs=CostModel(**fill_config["costs"]), governor=None
    )


def fill_cost(config: BacktestConfig, qty: float, price: float, coef: float) -> float:
    return float(config.costs.total(np.array([qty]), np.array([price]), np.array([coef]))[0])


@dataclass(frozen=True)
class FillMarket:
    """(T, N) engine arrays over the bars in the window, and where each stamp and name sit."""

    index: pd.DatetimeIndex  # UTC bar ends
    symbols: tuple[str, ...]
    open: np.ndarray
    fill_ok: np.ndarray
    cap: np.ndarray
    coef: np.ndarray

    def col(self, symbol: str) -> int | None:
        try:
            return self.symbols.index(symbol)
        except ValueError:
            return None


def _lookback_start(symbols: list[str], frequency: str, before: dt.datetime, bars: int) -> dt.datetime | None:
    stamps = list(
        Bar.objects.filter(instrument__symbol__in=symbols, frequency=frequency, ts__lte=before)
        .order_by("-ts")
        .values_list("ts", flat=True)
        .distinct()[:bars]
    )
    return stamps[-1] if stamps else None


def fill_market(
    *,
    symbols: list[str],
    frequency: str,
    after: dt.datetime,
    up_to: dt.datetime,
    config: BacktestConfig,
) -> FillMarket | None:
    """The engine inputs for fills in bars ending in (after, up_to] of `symbols`, from the bars
    known by `up_to` (point in time), with the volatility look-back before `after`. None: no bar."""
    start = _lookback_start(symbols, frequency, after, config.sigma_window + 1) or after
    casts = {f"v_{f}": Cast(f, FloatField()) for f in OHLCV}
    rows = list(
        Bar.objects.filter(
            instrument__symbol__in=symbols,
            frequency=frequency,
            ts__gte=start,
            ts__lte=up_to,
            known_at__lte=up_to,
        )
        .annotate(symbol=F("instrument__symbol"), **casts)
        .values_list("symbol", "ts", *casts)
    )
    frame = pd.DataFrame.from_records(rows, columns=["symbol", "ts", *OHLCV])
    if frame.empty or not (frame["ts"] > after).any():
        return None
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    wide = frame.pivot(index="ts", columns="symbol").sort_index()
    index = pd.DatetimeIndex(wide.index)
    names = tuple(wide["close"].columns)

    def arr(field: str) -> np.ndarray:
        return np.ascontiguousarray(wide[field].to_numpy(dtype=np.float64))

    T, N = len(index), len(names)
    panel = Panel(
        index=index.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[ns]"),
        symbols=names,
        **{f: arr(f) for f in OHLCV},
        member=np.ones((T, N), dtype=bool),
        sector=np.full(N, -1, dtype=np.int64),
        benchmark=np.full(T, np.nan),
        freq=frequency,
    )
    inputs = build_inputs(panel, config)
    return FillMarket(
        index=index,
        symbols=names,
        open=panel.open,
        fill_ok=inputs.fill_ok,
        cap=inputs.cap,
        coef=inputs.impact_coef,
    )
