"""Shared small panels for engine tests: hand-sized numbers so expected fills can be computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from workers.engine.panel import Panel


def make_panel(
    open_,
    close=None,
    *,
    volume=None,
    member=None,
    high=None,
    low=None,
    freq: str = "1d",
    benchmark=None,
) -> Panel:
    """A Panel from (T, N) lists/arrays; close defaults to open, volume to 1e6, member to has-bar."""
    o = np.asarray(open_, dtype=np.float64)
    if o.ndim == 1:
        o = o[:, None]
    c = o.copy() if close is None else np.asarray(close, dtype=np.float64).reshape(o.shape)
    T, N = o.shape
    v = np.full((T, N), 1e6) if volume is None else np.asarray(volume, dtype=np.float64).reshape(o.shape)
    m = (
        (np.isfinite(o) & np.isfinite(c))
        if member is None
        else np.asarray(member, dtype=bool).reshape(o.shape)
    )
    hi = np.fmax(o, c) if high is None else np.asarray(high, dtype=np.float64)
    lo = np.fmin(o, c) if low is None else np.asarray(low, dtype=np.float64)
    return Panel(
        index=np.datetime64("2020-01-02T21:00", "ns") + np.arange(T) * np.timedelta64(1, "D"),
        symbols=tuple(f"S{i}" for i in range(N)),
        open=o,
        high=hi,
        low=lo,
        close=c,
        volume=v,
        member=m,
        sector=np.zeros(N, dtype=np.int64),
        benchmark=np.full(T, np.nan) if benchmark is None else np.asarray(benchmark, dtype=np.float64),
        freq=freq,
    )


def random_panel(seed: int, T: int = 60, N: int = 6, *, gaps: bool = True) -> Panel:
    """A geometric random walk panel with occasional missing bars and membership changes."""
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0, 0.02, (T, N)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.01, (T, N)))
    volume = rng.uniform(2e3, 5e4, (T, N))
    member = np.ones((T, N), dtype=bool)
    if gaps:
        missing = rng.random((T, N)) < 0.05
        open_[missing] = np.nan
        close[missing] = np.nan
        volume[missing] = np.nan
        member[T // 2 :, 0] = False  # a name leaves the universe half-way
        member[: T // 3, N - 1] = False  # another joins late
    return make_panel(open_, close, volume=volume, member=member)


@pytest.fixture
def panel_factory():
    return make_panel
