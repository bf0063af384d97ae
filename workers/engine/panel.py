"""The point-in-time panel every engine component reads: T bars x N names, float64, NaN = no bar.

Row t holds what was known at the end of bar t (bars are stamped at their end and become known at
their stamp). Nothing in the engine may read row t+1 when deciding at t; the backtest fills at the
open of t+1, which is the first price not known at t.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FREQUENCIES = ("1h", "1d")
TRADING_DAYS_PER_YEAR = 252
# Regular session 09:30-16:00 ET stamped at bar end: 10:00 ... 16:00 = 7 hourly bars a day.
DEFAULT_BARS_PER_DAY = {"1h": 7, "1d": 1}


class PanelError(ValueError):
    """A panel that the engine refuses to work on, with the reason."""


def periods_per_year(freq: str, bars_per_day: int | None = None) -> int:
    if freq not in FREQUENCIES:
        raise PanelError(f"unknown bar frequency {freq!r}; expected one of {FREQUENCIES}")
    return TRADING_DAYS_PER_YEAR * (bars_per_day or DEFAULT_BARS_PER_DAY[freq])


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
        for name in ("open", "high", "low", "close", "volume"):
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
        if T > 1 and not (np.diff(self.index.astype("datetime64[ns]").astype(np.int64)) > 0).all():
            raise PanelError("index must be strictly increasing")
        if len(set(self.symbols)) != N:
            raise PanelError("symbols must be unique")
        with np.errstate(invalid="ignore"):
            for name in ("open", "high", "low", "close", "benchmark_open"):
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
        )
