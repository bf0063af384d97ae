"""What a feature function sees: the panel's arrays for a block of rows, plus a memo of shared work.

The same context type serves the full computation (all T rows) and the live last-row update (the
last `lookback + 1` rows of the panel), which is why a feature may only use trailing operations.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from ..panel import Panel
from .ops import ROLLING, last_window, safe_log, shift
from .registry import FEATURES

_BAR_KINDS = ("price", "volatility", "volume", "market", "factor")


class FeatureContext:
    def __init__(self, panel: Panel, start: int = 0, *, last_only: bool = False) -> None:
        """Rows [start, T) of `panel` (views, no copies). With `last_only`, cross-sectional steps
        (`cross`) work on the last row only: the live update needs nothing else from them."""
        self.open = panel.open[start:]
        self.high = panel.high[start:]
        self.low = panel.low[start:]
        self.close = panel.close[start:]
        self.volume = panel.volume[start:]
        self.member = panel.member[start:]
        self.benchmark = panel.benchmark[start:]
        self.sector = panel.sector
        self.periods_per_year = panel.periods_per_year
        self.last_only = last_only
        self.rows = slice(-1, None) if last_only else slice(None)
        self._memo: dict[str, np.ndarray] = {}
        # Thread safety (compute_features runs features on a pool): one lock per memo key, so a
        # shared intermediate is computed exactly once while other keys proceed in parallel. Keys
        # nest along the feature dependency DAG only, so per-key locks cannot deadlock.
        self._memo_ids: set[int] = set()  # ids of memoised values (kept alive by _memo)
        self._key_locks: dict[str, threading.Lock] = {}
        self._key_locks_guard = threading.Lock()
        if last_only and len(self.close):  # the masks evaluate_last applies, once per context
            bar_last = np.isfinite(self.open[-1]) & np.isfinite(self.close[-1])
            self._no_bar_last = ~bar_last
            self._outside_last = ~(bar_last & self.member[-1])

    @property
    def has_bar(self) -> np.ndarray:
        """(rows, N) a tradable bar exists (open and close known)."""
        return self.memo("has_bar", lambda: np.isfinite(self.open) & np.isfinite(self.close))

    @property
    def universe(self) -> np.ndarray:
        """(rows, N) member of the universe with a bar."""
        return self.memo("universe", lambda: self.member & self.has_bar)

    @property
    def universe_now(self) -> np.ndarray:
        """`universe` at the output rows (`now`): only the last row in a live update."""
        if not self.last_only:
            return self.universe
        return self.memo("universe_now", lambda: ~self._outside_last[None, :])

    @property
    def shape(self) -> tuple[int, int]:
        return self.close.shape

    def memo(self, key: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        """Compute a shared intermediate once per context (callers must not modify the result).
        Thread-safe: concurrent callers of one key wait for the first one's result."""
        value = self._memo.get(key)
        if value is not None:
            return value
        with self._key_locks_guard:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            value = self._memo.get(key)
            if value is None:
                value = make()
                self._memo_ids.add(id(value))
                self._memo[key] = value
        return value

    # Shared intermediates used by many features.
    @property
    def log_close(self) -> np.ndarray:
        return self.memo("log_close", lambda: np.log(self.close))

    @property
    def ret(self) -> np.ndarray:
        """1-bar log close-to-close return (NaN when either bar is missing)."""
        return self.memo("ret", lambda: self.log_close - shift(self.log_close, 1))

    @property
    def bench_log(self) -> np.ndarray:
        return self.memo("bench_log", lambda: safe_log(self.benchmark))

    @property
    def bench_ret(self) -> np.ndarray:
        """(T,) 1-bar log return of the benchmark."""
        return self.memo("bench_ret", lambda: self.bench_log - shift(self.bench_log, 1))

    @property
    def dollar_volume(self) -> np.ndarray:
        return self.memo("dollar_volume", lambda: self.close * self.volume)

    def broadcast(self, series: np.ndarray) -> np.ndarray:
        """A (T,) market series as a (T, N) array (the same value for every name at t)."""
        return np.broadcast_to(series[:, None], (len(series), self.shape[1]))

    def window(
        self,
        op: str,
        x: np.ndarray,
        w: int,
        *,
        min_count: int | None = None,
        lag: int = 0,
        key: str | None = None,
    ) -> np.ndarray:
        """Trailing w-bar `op` (mean/std/max/min/sum) ending `lag` bars before t, for results used
        only ELEMENTWISE toward the feature value (never fed into a shift or another window).
        Full mode: every row. Live mode: only the last row, as a (1, N) array that broadcasts.

        `key` names the input (e.g. "ret") when several features take the same window of it: the
        window is then computed once per context (the same call, so the same values)."""
        if self.last_only:
            if key is None:
                return last_window(op, x, w, min_count, lag)
            return self.memo(
                f"last:{op}:{key}:{w}:{min_count}:{lag}", lambda: last_window(op, x, w, min_count, lag)
            )
        out = self.rolling(op, x, w, min_count=min_count, key=key)
        return shift(out, lag) if lag else out

    def rolling(
        self, op: str, x: np.ndarray, w: int, *, min_count: int | None = None, key: str | None = None
    ):
        """The full-series trailing w-bar `op` of x (every row, in both modes: for series that feed
        another window), memoised under `key` when given."""
        if key is None:
            return ROLLING[op](x, w, min_count)
        return self.memo(f"rolling:{op}:{key}:{w}:{min_count}", lambda: ROLLING[op](x, w, min_count))

    def now(self, x: np.ndarray) -> np.ndarray:
        """The rows of x the output needs: all of them, or only the last in a live update."""
        return x[self.rows]

    def lagged(self, x: np.ndarray, k: int) -> np.ndarray:
        """x k bars before each output row (`shift` in full mode; one row in a live update)."""
        if not self.last_only:
            return shift(x, k)
        if k < 0:
            raise ValueError(f"lag {k} would read the future")
        if k >= len(x):
            return np.full((1,) + x.shape[1:], np.nan)
        return x[len(x) - 1 - k][None]

    def cross(self, op: Callable, x: np.ndarray, *args, rows_taken: bool = False) -> np.ndarray:
        """A cross-sectional op (ops.xs_*, sector_demean) over universe members, on `self.rows`:
        every row normally, only the last one in a live update (the result then has 1 row, so its
        caller must not feed it into a time-series op; the last-row equality tests enforce that)."""
        rows = x if rows_taken else x[self.rows]
        return op(rows, self.universe_now, *args)

    def feature(self, name: str) -> np.ndarray:
        """Another feature's final value (masked as its kind requires), memoised: for features that
        build on features (ranks, sector-relative values). Its lookback must be <= the caller's."""
        return self.memo(f"feature:{name}", lambda: self.evaluate(name))

    def evaluate(self, name: str, out: np.ndarray | None = None) -> np.ndarray:
        """Run a registered feature and apply its definedness rules (see registry). With `out` (a
        float array of the context's shape, e.g. a float32 slice of the result), the masked value is
        written there in the same pass that casts it."""
        spec = FEATURES[name]
        memo = self._memo.get(f"feature:{name}")
        if memo is not None:
            if out is None:
                return memo
            np.copyto(out, memo, casting="same_kind")
            return out
        raw = np.asarray(spec.fn(self), dtype=np.float64)
        R = len(self.close)
        if raw.shape != self.shape and not (
            self.last_only and raw.ndim == 2 and raw.shape[1] == self.shape[1]
        ):
            raise ValueError(f"feature {name!r} returned shape {raw.shape}, expected {self.shape}")
        # In live mode a feature built on `window` returns only its last rows: align masks at the end.
        first = R - len(raw)
        mask = None  # 0.0 where defined, NaN elsewhere: adding it masks in the same pass as the copy
        if spec.kind in _BAR_KINDS:
            mask = self.nan_unless(self.has_bar, "bar")[first:]
        elif spec.kind == "cross_sectional":
            mask = self.nan_unless(self.universe, "universe")[first:]
        if out is None:
            # Own the result: copy memoised intermediates and read-only broadcasts, not fresh arrays.
            fresh = raw.flags.writeable and raw.flags.owndata and id(raw) not in self._memo_ids
            out = raw if fresh else raw.copy()
            if mask is not None:
                out += mask
        elif mask is not None:
            np.add(raw, mask, out=out, casting="same_kind")
        else:
            np.copyto(out, raw, casting="same_kind")
        np.copyto(out, np.nan, where=np.isinf(out))  # also a float32 overflow
        out[: max(0, spec.lookback - first)] = np.nan
        return out

    def nan_unless(self, mask: np.ndarray, key: str) -> np.ndarray:
        """0.0 where mask, NaN elsewhere: adding it masks a feature in one cheap pass."""
        return self.memo(f"nan_unless:{key}", lambda: np.where(mask, 0.0, np.nan))

    def evaluate_last(self, name: str) -> np.ndarray:
        """(N,) the feature at the context's last row, with the same definedness rules."""
        spec = FEATURES[name]
        out = np.array(spec.fn(self)[-1], dtype=np.float64)
        if out.shape != (self.shape[1],):
            raise ValueError(f"feature {name!r} returned a last row of shape {out.shape}")
        if len(self.close) <= spec.lookback:
            out.fill(np.nan)
            return out
        out[~np.isfinite(out)] = np.nan
        if spec.kind in _BAR_KINDS:
            out[self._no_bar_last] = np.nan
        elif spec.kind == "cross_sectional":
            out[self._outside_last] = np.nan
        return out
