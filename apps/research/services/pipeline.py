"""From a validated strategy config and a Panel to engine results: signals (a rule, or a
walk-forward-trained model's out-of-sample scores), the allocator, the backtest, and the final
model fit for training runs. Pure engine calls; no database access here (the caller builds the
panel and stores the outcome), so one config + one panel always gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from apps.strategies.registry import strategy_spec
from workers.engine.backtest import BacktestConfig, BacktestResult, GovernorConfig, run_backtest
from workers.engine.costs import CostModel
from workers.engine.features import compute_features, feature_names
from workers.engine.labels import downside_event, forward_excess_return, label_horizon_bars
from workers.engine.models import LGBMConfig, LGBMModel, RidgeConfig, RidgeModel, WalkForwardConfig
from workers.engine.models.report import signal_report
from workers.engine.models.walkforward import walk_forward
from workers.engine.optimizer import OptimizerAllocator, OptimizerConfig, TopKEqualWeight
from workers.engine.rules import rule_signal

ProgressFn = Callable[[float, str], None]

# Label horizon (bars held) of the learned models: a trading week on daily bars, a day on hourly.
LABEL_HORIZON = {"1d": 5, "1h": 7}


class PipelineError(ValueError):
    """A config that cannot be run on this panel (too short for the walk-forward, ...), named."""


@dataclass
class EngineOutcome:
    result: BacktestResult
    start_row: int  # first evaluated bar (after the walk-forward's first training block)
    oos: bool  # the signal is out of sample at every evaluated bar
    signal: np.ndarray
    report: dict = field(default_factory=dict)  # model strategies: IC summary + series
    walk_forward: dict = field(default_factory=dict)


def backtest_config(config: dict) -> BacktestConfig:
    costs, risk, opt = config["costs"], config["risk"], config["optimizer"]
    recover = min(0.05, risk["conservative_dd"] / 2)
    return BacktestConfig(
        initial_cash=float(config["initial_cash"]),
        costs=CostModel(
            slippage_bps=costs["slippage_bps"],
            half_spread_bps=costs["half_spread_bps"],
            impact_eta=costs["impact_eta"],
            commission_per_share=costs["commission_per_share"],
        ),
        max_weight=opt["max_weight"],
        governor=GovernorConfig(
            conservative_dd=risk["conservative_dd"],
            risk_off_dd=risk["risk_off_dd"],
            halt_dd=risk["halt_dd"],
            recover_dd=recover,
        ),
    )


def allocator_for(config: dict):
    opt = config["optimizer"]
    if opt["allocator"] == "topk":
        return TopKEqualWeight(opt["top_k"], max_weight=opt["max_weight"])
    return OptimizerAllocator(
        OptimizerConfig(
            risk_aversion=opt["risk_aversion"],
            max_weight=opt["max_weight"],
            min_price=opt["min_price"],
            min_adv_dollar=opt["min_adv_dollar"],
            max_turnover=opt["turnover_cap"],
            sector_soft_cap=opt["sector_cap"],
            vol_min=opt["vol_min"],
            vol_max=opt["vol_max"],
            solver=opt["solver"],
        )
    )


def _feature_list(config: dict) -> list[str]:
    f = config["features"]
    if isinstance(f, str):
        return feature_names() if f == "all" else feature_names(f)
    return list(f)


def model_factory(config: dict, names: list[str]) -> Callable[[], LGBMModel | RidgeModel]:
    kind, params, seed = config["kind"], config["model"], int(config["seed"])
    if kind == "lgbm":
        cfg = LGBMConfig(**params, seed=seed, num_threads=1)
        return lambda: LGBMModel(cfg, feature_names=names)
    if kind == "ridge":
        cfg = RidgeConfig(**params)
        return lambda: RidgeModel(cfg, feature_names=names)
    raise PipelineError(f"strategy kind {kind!r} has no learned model")


def _walk_forward_config(config: dict, n_bars: int, horizon: int, *, min_rows: int) -> WalkForwardConfig:
    wf = config["walk_forward"]
    train = int(wf["train_bars"])
    if train >= n_bars - horizon:
        raise PipelineError(
            f"walk_forward.train_bars={train} leaves no out-of-sample bars: the research window has "
            f"{n_bars} bars (label horizon {horizon})"
        )
    return WalkForwardConfig(
        test_start=train,
        label_horizon=horizon,
        retrain_every=int(wf["retrain_every"]),
        train_window=train if wf["mode"] == "rolling" else None,
        min_train_rows=min_rows,
    )


def _labels(panel, config: dict) -> tuple[int, np.ndarray, np.ndarray | None]:
    """(horizon, target, downside): forward excess return vs the benchmark (engine labels)."""
    if not np.isfinite(panel.benchmark).any():
        raise PipelineError(
            "learned strategies train on returns in excess of the benchmark, but there are no SPY bars "
            "in the research window; load SPY bars for it"
        )
    horizon = LABEL_HORIZON[panel.freq]
    target = forward_excess_return(panel, horizon=horizon)
    downside = downside_event(panel, horizon=horizon) if config["kind"] == "lgbm" else None
    return horizon, target, downside


def model_signal(panel, config: dict, progress: ProgressFn) -> tuple[np.ndarray, int, dict, dict]:
    """Walk-forward out-of-sample scores: (signal, first OOS bar, signal report, folds summary)."""
    horizon, target, downside = _labels(panel, config)
    names = _feature_list(config)
    progress(15, f"computing {len(names)} features")
    fs = compute_features(panel, names)
    factory = model_factory(config, names)
    min_rows = 2 * int(config["model"].get("min_data_in_leaf", 50)) if config["kind"] == "lgbm" else 50
    wf_config = _walk_forward_config(config, panel.shape[0], label_horizon_bars(horizon), min_rows=min_rows)
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


def backtest_pipeline(*, panel, config: dict, progress: ProgressFn) -> EngineOutcome:
    spec = strategy_spec(config["kind"])
    report: dict = {}
    wf_summary: dict = {}
    if spec.trains:
        signal, start, report, wf_summary = model_signal(panel, config, progress)
        oos = True
    else:
        progress(20, f"computing {spec.name} signals")
        signal = rule_signal(panel, rule=spec.rule, params=config["model"])
        start, oos = 0, False
    progress(72, "simulating")
    # The backtest starts with cash at the first out-of-sample bar.
    evaluated = panel if start == 0 else panel.slice_rows(panel.shape[0], start=start)
    result = run_backtest(
        evaluated, backtest_config(config), allocator=allocator_for(config), alpha=signal[start:]
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


def train_pipeline(*, panel, config: dict, progress: ProgressFn) -> TrainedModel:
    """The final model on every labelled member-bar of the window (labels known inside it)."""
    horizon, target, downside = _labels(panel, config)
    names = _feature_list(config)
    progress(15, f"computing {len(names)} features")
    fs = compute_features(panel, names)
    factory = model_factory(config, names)
    probe = factory()
    from workers.engine.models import normalise_target, transform_features
    from workers.engine.models.base import coverage_ok, stack_rows

    progress(40, "preparing training rows")
    F, T, N = fs.values.shape
    prepared = transform_features(fs.values, panel.member, probe.feature_transform)
    covered = coverage_ok(prepared.reshape(F, T * N).T, probe.config.min_feature_coverage).reshape(T, N)
    y = normalise_target(target, panel.member & np.isfinite(target), probe.config.target_norm)
    tt, nn = np.nonzero(panel.member & covered & np.isfinite(y))
    if tt.size == 0:
        raise PipelineError("no training rows: no member bar has both enough features and a known label")
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
