"""A validated strategy config (the plain dict `StrategyConfig.to_dict()` gives) -> the engine's
own settings objects: backtest and governor settings, the allocator, the learned model and its
walk-forward schedule. The one place that reads a strategy config's sections, so the backtest,
training and the live cycle cannot build different engines from the same config.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..backtest import BacktestConfig, GovernorConfig
from ..costs import CostModel
from ..features import feature_names
from ..market import Frequency
from ..models import LGBMConfig, LGBMModel, RidgeConfig, RidgeModel, WalkForwardConfig
from ..optimizer import OptimizerAllocator, OptimizerConfig, TopKEqualWeight
from ..rules import RULES

# Label horizon (bars held) of the learned models: a trading week on daily bars, a day on hourly.
LABEL_HORIZON = {Frequency.DAY: 5, Frequency.HOUR: 7}

# Strategy kinds with a learned model (the others are the rules of `workers.engine.rules.RULES`).
LEARNED_MODELS: dict[str, tuple[type, type]] = {
    "lgbm": (LGBMConfig, LGBMModel),
    "ridge": (RidgeConfig, RidgeModel),
}

# The optimizer section of a strategy config -> `OptimizerConfig` fields: the ONE table of names.
# Two keys are spelled differently for people than in the engine (the stored configs of existing
# desks use these spellings and their sha256 binds promotion evidence, so the schema keeps them):
# everything else has the same name on both sides. `allocator` and `top_k` choose the allocator.
OPTIMIZER_KEYS: dict[str, str] = {
    "risk_aversion": "risk_aversion",
    "max_weight": "max_weight",
    "min_price": "min_price",
    "min_adv_dollar": "min_adv_dollar",
    "turnover_cap": "max_turnover",
    "sector_cap": "sector_soft_cap",
    "vol_min": "vol_min",
    "vol_max": "vol_max",
    "solver": "solver",
}
ALLOCATOR_KEYS = ("allocator", "top_k")
# The cost section -> `CostModel` fields and the risk section -> `GovernorConfig` fields (same names).
COST_KEYS = ("slippage_bps", "half_spread_bps", "impact_eta", "commission_per_share")
RISK_KEYS = ("conservative_dd", "risk_off_dd", "halt_dd")
# Recovery from a governor state: below this drawdown (or half the first threshold if smaller).
MAX_RECOVER_DD = 0.05


class DecideConfigError(ValueError):
    """A config that cannot be run on this panel (too short for the walk-forward, ...), named."""


def optimizer_config(section: Mapping[str, Any]) -> OptimizerConfig:
    """The config's optimizer section as the engine's `OptimizerConfig` (through OPTIMIZER_KEYS)."""
    return OptimizerConfig(**{engine: section[key] for key, engine in OPTIMIZER_KEYS.items()})


def optimizer_section(cfg: OptimizerConfig) -> dict[str, Any]:
    """The inverse of `optimizer_config` for the mapped keys (tests and config diffs)."""
    return {key: getattr(cfg, engine) for key, engine in OPTIMIZER_KEYS.items()}


def governor_config(risk: Mapping[str, Any]) -> GovernorConfig:
    recover = min(MAX_RECOVER_DD, risk["conservative_dd"] / 2)
    return GovernorConfig(**{k: risk[k] for k in RISK_KEYS}, recover_dd=recover)


def backtest_config(config: Mapping[str, Any], *, integer_shares: bool = False) -> BacktestConfig:
    """The simulator's settings of a strategy config. `integer_shares`: size orders in whole
    shares (the live desk trades whole shares only; research runs may size fractionally)."""
    opt = config["optimizer"]
    return BacktestConfig(
        initial_cash=float(config["initial_cash"]),
        costs=CostModel(**{k: config["costs"][k] for k in COST_KEYS}),
        max_weight=opt["max_weight"],
        governor=governor_config(config["risk"]),
        integer_shares=integer_shares,
    )


def allocator_for(config: Mapping[str, Any]) -> OptimizerAllocator | TopKEqualWeight:
    opt = config["optimizer"]
    if opt["allocator"] == "topk":
        return TopKEqualWeight(opt["top_k"], max_weight=opt["max_weight"])
    return OptimizerAllocator(optimizer_config(opt))


def is_learned(kind: str) -> bool:
    """True for a learned-model kind, False for a rule; an unknown kind is an error."""
    if kind in LEARNED_MODELS:
        return True
    if kind in RULES:
        return False
    raise DecideConfigError(
        f"unknown strategy kind {kind!r}; the engine runs {', '.join([*LEARNED_MODELS, *RULES])}"
    )


def feature_list(config: Mapping[str, Any]) -> list[str]:
    f = config["features"]
    if isinstance(f, str):
        return feature_names() if f == "all" else feature_names(f)
    return list(f)


def model_factory(config: Mapping[str, Any], names: list[str]) -> Callable[[], LGBMModel | RidgeModel]:
    kind, params, seed = config["kind"], config["model"], int(config["seed"])
    if kind == "lgbm":
        cfg = LGBMConfig(**params, seed=seed, num_threads=1)
        return lambda: LGBMModel(cfg, feature_names=names)
    if kind == "ridge":
        cfg = RidgeConfig(**params)
        return lambda: RidgeModel(cfg, feature_names=names)
    raise DecideConfigError(f"strategy kind {kind!r} has no learned model")


def min_train_rows(config: Mapping[str, Any]) -> int:
    return 2 * int(config["model"].get("min_data_in_leaf", 50)) if config["kind"] == "lgbm" else 50


def walk_forward_config(
    config: Mapping[str, Any], n_bars: int, horizon: int, *, min_rows: int
) -> WalkForwardConfig:
    wf = config["walk_forward"]
    train = int(wf["train_bars"])
    if train >= n_bars - horizon:
        raise DecideConfigError(
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
