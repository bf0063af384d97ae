"""Whole-panel runs of a strategy config: the walk-forward out-of-sample signal (learned kinds)
or the rule's scores, the backtest over the evaluated bars, and the final model fit of a training
run. Pure engine calls, no storage: one config + one panel always gives the same numbers. The
backtest's bar loop decides each bar through `decide.step.allocate_bar`, the function the live
kernel (`decide.kernel.Kernel`) calls once per bar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backtest import BacktestResult, run_backtest
from ..features import compute_features
from ..labels import downside_event, forward_excess_return, label_horizon_bars
from ..models import LGBMModel, RidgeModel, normalise_target, transform_features
from ..models.base import coverage_ok, stack_rows
from ..models.report import signal_report
from ..models.walkforward import walk_forward
from ..panel import Panel
from ..rules import rule_signal
from .configs import (
    LABEL_HORIZON,
    DecideConfigError,
    allocator_for,
    backtest_config,
    feature_list,
    is_learned,
    min_train_rows,
    model_factory,
    walk_forward_config,
)

ProgressFn = Callable[[float, str], None]


@dataclass
class EngineOutcome:
    result: BacktestResult
    start_row: int  # first evaluated bar (after the walk-forward's first training block)
    oos: bool  # the signal is out of sample at every evaluated bar
    signal: np.ndarray
    report: dict = field(default_factory=dict)  # model strategies: IC summary + series
    walk_forward: dict = field(default_factory=dict)


def _labels(panel: Panel, config: Mapping[str, Any]) -> tuple[int, np.ndarray, np.ndarray | None]:
    """(horizon, target, downside): forward excess return vs the benchmark (engine labels)."""
    if not np.isfinite(panel.benchmark).any():
        raise DecideConfigError(
            "learned strategies train on returns in excess of the benchmark, but there are no SPY bars "
            "in the research window; load SPY bars for it"
        )
    horizon = LABEL_HORIZON[panel.freq]
    target = forward_excess_return(panel, horizon=horizon)
    downside = downside_event(panel, horizon=horizon) if config["kind"] == "lgbm" else None
    return horizon, target, downside


def model_signal(
    panel: Panel, config: Mapping[str, Any], progress: ProgressFn
) -> tuple[np.ndarray, int, dict, dict]:
    """Walk-forward out-of-sample scores: (signal, first OOS bar, signal report, folds summary)."""
    horizon, target, downside = _labels(panel, config)
    names = feature_list(config)
    progress(15, f"computing {len(names)} features")
    fs = compute_features(panel, names)
    factory = model_factory(config, names)
    wf_config = walk_forward_config(
        config, panel.shape[0], label_horizon_bars(horizon), min_rows=min_train_rows(config)
    )
    n_folds = max(1, -(-(panel.shape[0] - wf_config.test_start) // wf_config.retrain_every))
    done = [0]

    def on_fold(rec) -> None:
        done[0] += 1
        progress(25 + 45 * done[0] / n_folds, f"walk-forward fold {done[0]}/{n_folds} ({rec.status})")

    progress(25, f"walk-forward: {n_folds} folds")
    wf = walk_forward(
        features=fs.values,
        feature_names=fs.names,
        member=panel.member,
        target=target,
        downside=downside,
        model_factory=factory,
        config=wf_config,
        index=panel.index,
        on_fold=on_fold,
    )
    report = signal_report(
        signal=wf.signal,
        label=target,
        member=panel.member,
        horizon=horizon,
        periods_per_year=panel.periods_per_year,
        # Deciles need >= 10 names; small universes get fewer buckets rather than no report.
        n_quantiles=min(10, max(3, panel.shape[1] // 2)),
        min_names=min(20, max(3, panel.shape[1] // 2)),
        index=panel.index,
        importance=wf.importance,
    )
    return wf.signal, wf_config.test_start, {"summary": report.summary, "ic": report.rank_ic}, wf.summary()


def backtest_pipeline(
    *, panel: Panel, config: Mapping[str, Any], progress: ProgressFn, integer_shares: bool = False
) -> EngineOutcome:
    """The research backtest of `config` on `panel`. `integer_shares`: whole-share orders, as the
    live desk sends them (the paper-vs-backtest parity compares orders in shares)."""
    report: dict = {}
    wf_summary: dict = {}
    if is_learned(config["kind"]):
        signal, start, report, wf_summary = model_signal(panel, config, progress)
        oos = True
    else:
        progress(20, f"computing {config['kind']} signals")
        signal = rule_signal(panel, rule=config["kind"], params=config["model"])
        start, oos = 0, False
    progress(72, "simulating")
    # The backtest starts with cash at the first out-of-sample bar.
    evaluated = panel if start == 0 else panel.slice_rows(panel.shape[0], start=start)
    result = run_backtest(
        evaluated,
        backtest_config(config, integer_shares=integer_shares),
        allocator=allocator_for(config),
        alpha=signal[start:],
    )
    return EngineOutcome(
        result=result, start_row=start, oos=oos, signal=signal, report=report, walk_forward=wf_summary
    )


@dataclass
class TrainedModel:
    model: LGBMModel | RidgeModel
    feature_names: list[str]
    train_start_row: int
    train_end_row: int
    n_rows: int


def train_pipeline(*, panel: Panel, config: Mapping[str, Any], progress: ProgressFn) -> TrainedModel:
    """The final model on every labelled member-bar of the window (labels known inside it)."""
    horizon, target, downside = _labels(panel, config)
    names = feature_list(config)
    progress(15, f"computing {len(names)} features")
    fs = compute_features(panel, names)
    factory = model_factory(config, names)
    probe = factory()
    progress(40, "preparing training rows")
    F, T, N = fs.values.shape
    prepared = transform_features(fs.values, panel.member, probe.feature_transform)
    covered = coverage_ok(prepared.reshape(F, T * N).T, probe.config.min_feature_coverage).reshape(T, N)
    y = normalise_target(target, panel.member & np.isfinite(target), probe.config.target_norm)
    tt, nn = np.nonzero(panel.member & covered & np.isfinite(y))
    if tt.size == 0:
        raise DecideConfigError("no training rows: no member bar has both enough features and a known label")
    X = stack_rows(prepared, tt, nn)
    progress(55, f"fitting on {tt.size} rows")
    window = {
        "t_start": int(tt.min()),
        "t_end": int(tt.max()),
        "start": str(np.datetime_as_string(panel.index[int(tt.min())], unit="s")),
        "end": str(np.datetime_as_string(panel.index[int(tt.max())], unit="s")),
        "label_horizon": horizon,
    }
    model = factory()
    model.fit(X, y[tt, nn], None if downside is None else downside[tt, nn], train_window=window)
    return TrainedModel(
        model=model,
        feature_names=names,
        train_start_row=int(tt.min()),
        train_end_row=int(tt.max()),
        n_rows=int(tt.size),
    )
