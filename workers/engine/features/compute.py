"""Computing features: the whole panel at once (research, training) or only the last bar (live).

`compute_features_last` is the incremental update: for ONE new bar it recomputes every feature's
last row from a short trailing window covering the `lookback + 1` rows that feature needs (features
grouped into a few tail lengths that share intermediates). Because every feature has finite memory, this equals the last row of
`compute_features` over the full history (tests assert it to 1e-9).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..panel import Panel
from .context import FeatureContext
from .registry import resolve


@dataclass(frozen=True)
class FeatureSet:
    """values[f, t, n] = feature names[f] for symbols[n] at index[t]; NaN where undefined."""

    names: list[str]
    values: np.ndarray  # (F, T, N)
    index: np.ndarray  # (T,) datetime64[ns]
    symbols: tuple[str, ...]

    def _mask(self, mask: np.ndarray) -> np.ndarray:
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.shape != self.values.shape[1:]:
            raise ValueError(
                f"mask must be a {self.values.shape[1:]} bool array, got {mask.dtype} {mask.shape}"
            )
        return mask

    def stack(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Training rows where `mask` is True: (R, F) values and an (R, 2) int64 array of (t, n),
        ordered by t then n (time order, which walk-forward splits rely on)."""
        mask = self._mask(mask)
        t_idx, n_idx = np.nonzero(mask)
        X = np.ascontiguousarray(self.values[:, t_idx, n_idx].T)
        return X, np.stack([t_idx, n_idx], axis=1).astype(np.int64)

    def to_frame(self, mask: np.ndarray) -> pd.DataFrame:
        """`stack` as a DataFrame indexed by (ts, symbol), one column per feature."""
        X, rows = self.stack(mask)
        idx = pd.MultiIndex.from_arrays(
            [pd.DatetimeIndex(self.index[rows[:, 0]]), np.asarray(self.symbols, dtype=object)[rows[:, 1]]],
            names=["ts", "symbol"],
        )
        return pd.DataFrame(X, index=idx, columns=self.names)


def compute_features(
    panel: Panel, names: Iterable[str] | None = None, *, dtype=np.float32, n_threads: int = 2
) -> FeatureSet:
    """All (or the named) features over the whole panel, as an (F, T, N) array of `dtype`.

    Computation is float64; only the stored result is cast (float32 halves memory for training).
    `n_threads` features run at once on a thread pool (numpy and bottleneck release the GIL in
    their loops); shared intermediates are computed once under per-key locks, and every value is
    the same call on the same inputs whatever the schedule, so the result is bit-identical to
    `n_threads=1` (a plain loop, no pool)."""
    if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1:
        raise ValueError(f"n_threads must be an int >= 1, got {n_threads!r}")
    specs = resolve(names)
    T, N = panel.shape
    values = np.empty((len(specs), T, N), dtype=dtype)
    ctx = FeatureContext(panel)
    shared = {dep for spec in specs for dep in spec.depends}  # memoised: computed once, read twice

    def run(i: int) -> None:
        spec = specs[i]
        if spec.name in shared:
            values[i] = ctx.feature(spec.name)
        else:
            ctx.evaluate(spec.name, out=values[i])

    if n_threads == 1 or len(specs) < 2:
        for i in range(len(specs)):
            run(i)
    else:
        with ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="features") as pool:
            for future in [pool.submit(run, i) for i in range(len(specs))]:
                future.result()  # re-raises a feature's error here
    return FeatureSet(names=[s.name for s in specs], values=values, index=panel.index, symbols=panel.symbols)


def compute_features_last(panel_tail: Panel, names: Iterable[str] | None = None) -> np.ndarray:
    """(F, N) float64: the features at the panel's LAST row, reading only the rows each needs.

    Pass at least `required_lookback(names) + 1` trailing rows; with fewer, the result is still the
    last row of `compute_features(panel_tail)` (long-lookback features are then NaN)."""
    specs = resolve(names)
    T, N = panel_tail.shape
    out = np.full((len(specs), N), np.nan)
    if T == 0:
        return out
    contexts: dict[int, FeatureContext] = {}
    shared = {dep for spec in specs for dep in spec.depends}
    for i, spec in enumerate(specs):
        start = max(0, T - _tail_rows(spec.lookback))
        ctx = contexts.get(start)
        if ctx is None:
            ctx = contexts[start] = FeatureContext(panel_tail, start, last_only=True)
        out[i] = ctx.feature(spec.name)[-1] if spec.name in shared else ctx.evaluate_last(spec.name)
    return out


# Tail lengths the live update shares between features: a feature runs on the shortest of these
# that covers its lookback + 1 rows, so intermediates (returns, moving averages, beta moments) are
# computed once per bucket rather than once per distinct lookback. Extra rows cost little; an extra
# context costs every shared intermediate again.
_TAIL_BUCKETS = (22, 61, 250)


def _tail_rows(lookback: int) -> int:
    need = lookback + 1
    return next((b for b in _TAIL_BUCKETS if b >= need), need)
