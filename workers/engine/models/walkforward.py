"""Walk-forward training: out-of-sample predictions stitched into one T x N signal panel.

The test period is cut into blocks of `retrain_every` bars. For each block [a, b) a fresh model
is trained on rows t with t + H + embargo < a (H = label horizon; see WalkForwardConfig), then
predicts every member at every bar of the block from that bar's features. The stitched panel is
NaN wherever nothing was predicted (before the test start, skipped folds, non-members, names
with too few finite features). The signal at t uses only data known at t, so the backtest can
act on it at t and fill at the open of t+1.

Every fold is recorded (`FoldRecord`) with the bounds the purge allowed AND the actual min/max
training bar used, so leakage can be audited after the fact, and with the reason when skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .base import SignalModel, coverage_ok, stack_rows
from .config import ModelError, WalkForwardConfig
from .transforms import normalise_target, transform_features


@dataclass
class FoldRecord:
    fold: int
    test_start: int  # first test bar
    test_end: int  # one past the last test bar
    train_lo: int  # first bar the window allows (-1 when none)
    train_hi: int  # last bar the purge/embargo allows (-1 when none)
    status: str = "skipped"  # "trained" | "skipped"
    reason: str = ""
    train_t_min: int = -1  # first bar actually used for training
    train_t_max: int = -1  # last bar actually used for training
    n_train_rows: int = 0
    n_test_rows: int = 0
    fit_s: float = 0.0
    data_hash: str | None = None


@dataclass
class WalkForwardResult:
    signal: np.ndarray  # (T, N) out-of-sample score, NaN where not predicted
    folds: list[FoldRecord]
    feature_names: list[str]
    config: WalkForwardConfig
    importance: dict[str, float] = field(default_factory=dict)  # mean share of importance over folds
    last_model: SignalModel | None = None

    @property
    def trained_folds(self) -> list[FoldRecord]:
        return [f for f in self.folds if f.status == "trained"]

    def summary(self) -> dict[str, Any]:
        trained = self.trained_folds
        return {
            "n_folds": len(self.folds),
            "n_trained": len(trained),
            "skipped": [{"fold": f.fold, "reason": f.reason} for f in self.folds if f.status != "trained"],
            "train_rows_max": max((f.n_train_rows for f in trained), default=0),
            "train_rows_total": int(sum(f.n_train_rows for f in trained)),
            "fit_s_total": float(sum(f.fit_s for f in trained)),
            "fit_s_max": float(max((f.fit_s for f in trained), default=0.0)),
            "predicted_cells": int(np.isfinite(self.signal).sum()),
        }

    def folds_as_dicts(self) -> list[dict[str, Any]]:
        return [asdict(f) for f in self.folds]


def _iso(index: np.ndarray | None, t: int) -> str | None:
    if index is None or t < 0:
        return None
    return str(np.datetime_as_string(np.asarray(index)[t], unit="s"))


def fold_bounds(config: WalkForwardConfig, n_bars: int) -> list[tuple[int, int, int, int]]:
    """(test_start, test_end, train_lo, train_hi) per fold; train_hi < 0 means no past rows left."""
    end = n_bars if config.test_end is None else min(config.test_end, n_bars)
    if config.test_start >= end:
        raise ModelError(f"test_start={config.test_start} leaves no test bars (panel has {n_bars} bars)")
    out = []
    for a in range(config.test_start, end, config.retrain_every):
        b = min(a + config.retrain_every, end)
        hi = a - 1 - config.gap
        lo = 0 if config.train_window is None else max(0, hi - config.train_window + 1)
        out.append((a, b, lo if hi >= 0 else -1, hi))
    return out


def walk_forward(
    *,
    features: np.ndarray,
    feature_names: list[str],
    member: np.ndarray,
    target: np.ndarray,
    downside: np.ndarray | None,
    model_factory: Callable[[], SignalModel],
    config: WalkForwardConfig,
    index: np.ndarray | None = None,
    on_fold: Callable[[FoldRecord], None] | None = None,
) -> WalkForwardResult:
    """Train and predict fold by fold. `features` (F, T, N) are raw (NaN = undefined); `target`
    and `downside` (T, N) are the labels at t (NaN = unknown). Training rows: members at t with
    a finite target and enough finite features; LightGBM sees NaN features, ridge sees 0."""
    features = np.asarray(features)
    if features.ndim != 3:
        raise ModelError(f"features must be (F, T, N), got shape {features.shape}")
    F, T, N = features.shape
    if F != len(feature_names):
        raise ModelError(f"features have {F} planes but {len(feature_names)} names")
    member = np.asarray(member)
    if member.shape != (T, N) or member.dtype != np.bool_:
        raise ModelError(f"member must be a ({T}, {N}) bool array, got {member.shape} {member.dtype}")
    target = np.asarray(target, dtype=np.float64)
    if target.shape != (T, N):
        raise ModelError(f"target must be ({T}, {N}), got {target.shape}")
    if downside is not None:
        downside = np.asarray(downside, dtype=np.float64)
        if downside.shape != (T, N):
            raise ModelError(f"downside must be ({T}, {N}), got {downside.shape}")
    if index is not None and len(index) != T:
        raise ModelError(f"index has {len(index)} bars, features have {T}")
    if np.isinf(features).any():
        raise ModelError("features contain infinite values; the feature library must emit NaN instead")

    probe = model_factory()
    if list(probe.feature_names) != list(feature_names):
        raise ModelError("model_factory builds a model whose feature list differs from feature_names")
    prepared = transform_features(features, member, probe.feature_transform)
    min_cov = probe.config.min_feature_coverage  # type: ignore[attr-defined]
    covered = coverage_ok(prepared.reshape(F, T * N).T, min_cov).reshape(T, N)
    predictable = member & covered
    y = normalise_target(target, member & np.isfinite(target), probe.config.target_norm)  # type: ignore[attr-defined]
    trainable = predictable & np.isfinite(y)

    signal = np.full((T, N), np.nan)
    folds: list[FoldRecord] = []
    importance: dict[str, float] = {}
    last_model: SignalModel | None = None
    for k, (a, b, lo, hi) in enumerate(fold_bounds(config, T)):
        rec = FoldRecord(fold=k, test_start=a, test_end=b, train_lo=lo, train_hi=hi)
        folds.append(rec)
        test_t, test_n = np.nonzero(predictable[a:b])
        test_t = test_t + a
        rec.n_test_rows = int(test_t.size)
        if test_t.size == 0:
            rec.reason = "empty universe: no member with enough finite features in the test block"
        elif hi < 0:
            rec.reason = f"no training bars before bar {a} after purge+embargo of {config.gap} bars"
        else:
            bars = np.arange(hi, lo - 1, -config.train_stride)[::-1]
            tt, nn = np.nonzero(trainable[bars])
            tt = bars[tt]
            rec.n_train_rows = int(tt.size)
            if tt.size < config.min_train_rows:
                rec.reason = f"too few training rows: {tt.size} < min_train_rows={config.min_train_rows}"
            else:
                rec.train_t_min, rec.train_t_max = int(tt.min()), int(tt.max())
                X = stack_rows(prepared, tt, nn)
                yd = None if downside is None else downside[tt, nn]
                window = {
                    "t_start": rec.train_t_min,
                    "t_end": rec.train_t_max,
                    "start": _iso(index, rec.train_t_min),
                    "end": _iso(index, rec.train_t_max),
                    "test_start": a,
                    "label_horizon": config.label_horizon,
                    "gap": config.gap,
                }
                model = model_factory()
                t0 = time.perf_counter()
                try:
                    model.fit(X, y[tt, nn], yd, train_window=window)
                except ModelError as exc:
                    rec.reason = f"fit failed: {exc}"
                else:
                    rec.fit_s = time.perf_counter() - t0
                    del X
                    signal[test_t, test_n] = model.predict(stack_rows(prepared, test_t, test_n))
                    rec.status, rec.data_hash = "trained", model.data_hash
                    imp = model.feature_importance()
                    total = sum(imp.values())
                    for name, v in imp.items():
                        importance[name] = importance.get(name, 0.0) + (v / total if total > 0 else 0.0)
                    last_model = model
        if on_fold is not None:
            on_fold(rec)
    trained = [f for f in folds if f.status == "trained"]
    if not trained:
        reasons = "; ".join(sorted({f.reason for f in folds}))
        raise ModelError(f"walk-forward trained no fold ({len(folds)} folds): {reasons}")
    importance = {k: v / len(trained) for k, v in sorted(importance.items(), key=lambda kv: -kv[1])}
    return WalkForwardResult(
        signal=signal,
        folds=folds,
        feature_names=list(feature_names),
        config=config,
        importance=importance,
        last_model=last_model,
    )
