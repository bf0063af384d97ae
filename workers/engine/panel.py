"""The point-in-time panel every engine component reads: T bars x N names, float64, NaN = no bar.

Row t holds what was known at the end of bar t (bars are stamped at their end and become known at
their stamp). Nothing in the engine may read row t+1 when deciding at t; the backtest fills at the
open of t+1, which is the first price not known at t.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .market import FREQUENCIES, OHLCV, PRICE_FIELDS, TRADING_DAYS_PER_YEAR, Frequency, membership_mask


class PanelError(ValueError):
    """A panel that the engine refuses to work on, with the reason."""


def periods_per_year(freq: str, bars_per_day: int | None = None) -> int:
    if freq not in FREQUENCIES:
        raise PanelError(f"unknown bar frequency {freq!r}; expected one of {FREQUENCIES}")
    return TRADING_DAYS_PER_YEAR * (bars_per_day or Frequency(freq).bars_per_day)


@dataclass(frozen=True)
class Panel:
    """T x N arrays. `member[t, i]`: name i is in the universe at t. `sector[i]`: integer sector id
    (-1 unknown). `benchmark[t]`: benchmark (SPY) close at t, NaN when missing."""

    index: np.ndarray  # (T,) datetime64[ns], UTC, strictly increasing
    symbols: tuple[str, ...]  # (N,)
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    member: np.ndarray  # (T, N) bool
    sector: np.ndarray  # (N,) int64
    benchmark: np.ndarray  # (T,) float64
    freq: str = "1d"
    bars_per_day: int | None = None
    sector_names: tuple[str, ...] = field(default_factory=tuple)
    # Benchmark open at t (optional): labels measure the benchmark open-to-open like the stock when
    # it is present, else fall back to close-to-close (see workers.engine.labels).
    benchmark_open: np.ndarray | None = None
    # (T, N) cumulative split factor of each bar (optional): the product of the ratios of the
    # name's splits with an ex-date after the bar that the prices were back-adjusted by, so the
    # as-traded price of bar t is `close[t] * split_factor[t]` (see `as_traded_close`). None: the
    # prices are as traded (no later split applied).
    split_factor: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.validate()

    @property
    def shape(self) -> tuple[int, int]:
        return self.close.shape

    @property
    def periods_per_year(self) -> int:
        return periods_per_year(self.freq, self.bars_per_day)

    def validate(self) -> None:
        T, N = len(self.index), len(self.symbols)
        if self.freq not in FREQUENCIES:
            raise PanelError(f"unknown bar frequency {self.freq!r}; expected one of {FREQUENCIES}")
        for name in OHLCV:
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.shape != (T, N):
                raise PanelError(f"{name} must be a ({T}, {N}) array, got {getattr(arr, 'shape', type(arr))}")
            if arr.dtype != np.float64:
                raise PanelError(f"{name} must be float64, got {arr.dtype}")
            if np.isinf(arr).any():
                raise PanelError(f"{name} contains infinite values")
        if self.member.shape != (T, N) or self.member.dtype != np.bool_:
            raise PanelError(f"member must be a ({T}, {N}) bool array")
        if self.sector.shape != (N,):
            raise PanelError(f"sector must have shape ({N},)")
        if self.benchmark.shape != (T,):
            raise PanelError(f"benchmark must have shape ({T},)")
        if self.benchmark_open is not None and (
            self.benchmark_open.shape != (T,)
            or self.benchmark_open.dtype != np.float64
            or np.isinf(self.benchmark_open).any()
        ):
            raise PanelError(f"benchmark_open must be a finite-or-NaN ({T},) float64 array or None")
        if self.split_factor is not None and (
            self.split_factor.shape != (T, N)
            or self.split_factor.dtype != np.float64
            or not (np.isfinite(self.split_factor) & (self.split_factor > 0)).all()
        ):
            raise PanelError(f"split_factor must be a finite positive ({T}, {N}) float64 array or None")
        if T > 1 and not (np.diff(self.index.astype("datetime64[ns]").astype(np.int64)) > 0).all():
            raise PanelError("index must be strictly increasing")
        if len(set(self.symbols)) != N:
            raise PanelError("symbols must be unique")
        with np.errstate(invalid="ignore"):
            for name in (*PRICE_FIELDS, "benchmark_open"):
                arr = getattr(self, name)
                if arr is not None and (arr <= 0).any():
                    if arr.ndim == 1:
                        raise PanelError(f"{name} has a non-positive price at row {np.argmax(arr <= 0)}")
                    t, i = np.argwhere(arr <= 0)[0]
                    raise PanelError(f"{name} has a non-positive price for {self.symbols[i]} at row {t}")
            if (self.volume < 0).any():
                raise PanelError("volume has negative values")

    @property
    def has_bar(self) -> np.ndarray:
        """(T, N) bool: a tradable bar exists (open and close known)."""
        return np.isfinite(self.open) & np.isfinite(self.close)

    def as_traded_close(self, t: int) -> np.ndarray:
        """(N,) the close of bar t at the price it traded at then: back-adjustment by splits with a
        later ex-date undone. A price level rule (the optimizer's minimum price) must use this,
        not the adjusted close, whose level depends on splits nobody knew of at t."""
        if self.split_factor is None:
            return self.close[t]
        return self.close[t] * self.split_factor[t]

    def slice_rows(self, stop: int, *, start: int = 0) -> Panel:
        """The panel as known at the end of bar `stop - 1` (rows [start, stop)); a `start` > 0 gives
        the trailing window the live feature update needs (`required_lookback + 1` rows)."""
        rows = slice(start, stop)
        return Panel(
            index=self.index[rows],
            symbols=self.symbols,
            open=self.open[rows],
            high=self.high[rows],
            low=self.low[rows],
            close=self.close[rows],
            volume=self.volume[rows],
            member=self.member[rows],
            sector=self.sector,
            benchmark=self.benchmark[rows],
            freq=self.freq,
            bars_per_day=self.bars_per_day,
            sector_names=self.sector_names,
            benchmark_open=None if self.benchmark_open is None else self.benchmark_open[rows],
            split_factor=None if self.split_factor is None else self.split_factor[rows],
        )


def wide_panel(
    long: pd.DataFrame,
    *,
    freq: str,
    benchmark_close: pd.Series | None = None,
    intervals: pd.DataFrame | None = None,
    sectors: dict[str, str] | None = None,
    bars_per_day: int | None = None,
) -> Panel:
    """Long bars (symbol, ts [UTC], open, high, low, close, volume) -> Panel.

    Without membership intervals every name is a member wherever it has a bar. A `split_factor`
    column (`corporate_actions.split_adjust(..., keep_factor=True)`) becomes the panel's
    `split_factor` (1.0 where a name has no bar)."""
    long = long.sort_values(["ts", "symbol"])
    wide = long.pivot(index="ts", columns="symbol")
    index = pd.DatetimeIndex(wide.index)
    symbols = list(wide["close"].columns)

    def arr(name: str) -> np.ndarray:
        return np.ascontiguousarray(wide[name].to_numpy(dtype=np.float64))

    close = arr("close")
    member = (
        membership_mask(index, symbols, intervals.itertuples(index=False, name=None))
        if intervals is not None
        else np.isfinite(close)
    )
    sector_names = sorted({v for v in (sectors or {}).values() if v})
    sector_id = {name: k for k, name in enumerate(sector_names)}
    sector = np.array([sector_id.get((sectors or {}).get(s, ""), -1) for s in symbols], dtype=np.int64)
    if benchmark_close is not None:
        bench = benchmark_close.reindex(index).to_numpy(dtype=np.float64)
    else:
        bench = np.full(len(index), np.nan)
    return Panel(
        index=index.tz_convert("UTC").tz_localize(None).values.astype("datetime64[ns]"),
        symbols=tuple(symbols),
        open=arr("open"),
        high=arr("high"),
        low=arr("low"),
        close=close,
        volume=arr("volume"),
        member=member,
        sector=sector,
        benchmark=bench,
        freq=freq,
        bars_per_day=bars_per_day,
        sector_names=tuple(sector_names),
        split_factor=(
            np.ascontiguousarray(np.nan_to_num(wide["split_factor"].to_numpy(dtype=np.float64), nan=1.0))
            if "split_factor" in long.columns
            else None
        ),
    )
