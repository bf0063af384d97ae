"""`StrategyConfig`: the one validated description of a strategy, with defaults.

`strategy_config_validate(data)` turns a JSON-like dict into a frozen dataclass tree or raises
`ConfigValidationError` listing every bad field by its dotted path; `.to_dict()` gives back a dict
that validates to an equal config (defaults filled in). Kind-specific model settings come from the
strategy registry, so an unknown kind is refused before anything else is read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from workers.engine.market import FREQUENCIES, Frequency

from . import schema as s
from .registry import STRATEGIES, strategy_spec
from .schema import ConfigValidationError

__all__ = ["ConfigValidationError", "StrategyConfig", "strategy_config_validate"]


def _feature_catalogue() -> tuple[list[str], tuple[str, ...]] | None:
    """(feature names, feature kinds) from the engine's registry, or None when the engine's
    feature library is not importable in this build (then names are checked when a run starts)."""
    try:
        from workers.engine.features import KINDS, feature_names
    except ImportError:
        return None
    return feature_names(), tuple(KINDS)


def _parse_features(v: Any) -> str | tuple[str, ...]:
    """Either a named set ("all" or a feature kind such as "price") or a list of feature names."""
    catalogue = _feature_catalogue()
    if isinstance(v, str):
        sets = ("all", *(catalogue[1] if catalogue else ()))
        if catalogue is not None and v not in sets:
            raise ValueError(f"unknown feature set {v!r}; named sets: {', '.join(sets)}")
        return v
    if not isinstance(v, list | tuple) or not v or not all(isinstance(x, str) for x in v):
        raise ValueError("must be a named set (a string) or a non-empty list of feature names")
    if len(set(v)) != len(v):
        raise ValueError("lists a feature twice")
    if catalogue is not None:
        unknown = [x for x in v if x not in catalogue[0]]
        if unknown:
            raise ValueError(f"unknown feature(s) {', '.join(unknown)}")
    return tuple(v)


@dataclass(frozen=True)
class ResearchWindow:
    start: dt.date = s.date(dt.date(2018, 1, 1))
    end: dt.date = s.date(dt.date(2024, 12, 31))


@dataclass(frozen=True)
class WalkForward:
    train_bars: int = s.number(2000, lo=50, integer=True)
    retrain_every: int = s.number(500, lo=1, integer=True)
    mode: str = s.choice("expanding", choices=("expanding", "rolling"))


@dataclass(frozen=True)
class OptimizerSettings:
    allocator: str = s.choice("optimizer", choices=("optimizer", "topk"))
    top_k: int = s.number(20, lo=1, integer=True)
    max_weight: float = s.number(0.10, lo=0, hi=1, lo_open=True)
    sector_cap: float | None = s.number(0.25, lo=0, hi=1, lo_open=True, optional=True)
    vol_min: float | None = s.number(None, lo=0, lo_open=True, optional=True)
    vol_max: float | None = s.number(None, lo=0, lo_open=True, optional=True)
    turnover_cap: float | None = s.number(None, lo=0, hi=2, optional=True)
    min_price: float = s.number(5.0, lo=0)
    min_adv_dollar: float = s.number(1e6, lo=0)
    risk_aversion: float = s.number(1.0, lo=0, lo_open=True)
    solver: str = s.choice("OSQP", choices=("OSQP", "CLARABEL", "SCS"))


@dataclass(frozen=True)
class CostSettings:
    slippage_bps: float = s.number(1.0, lo=0, hi=1000)
    half_spread_bps: float = s.number(0.5, lo=0, hi=1000)
    impact_eta: float = s.number(0.1, lo=0)
    commission_per_share: float = s.number(0.0, lo=0)


@dataclass(frozen=True)
class RiskSettings:
    """Drawdown thresholds of the risk governor (conservative, risk-off, halt)."""

    conservative_dd: float = s.number(0.10, lo=0, hi=1, lo_open=True, hi_open=True)
    risk_off_dd: float = s.number(0.15, lo=0, hi=1, lo_open=True, hi_open=True)
    halt_dd: float = s.number(0.20, lo=0, hi=1, lo_open=True, hi_open=True)


@dataclass(frozen=True)
class GateSettings:
    """Per-strategy overrides of the promotion gates; None = the desk default (settings)."""

    min_sharpe: float | None = s.number(None, optional=True)
    max_drawdown: float | None = s.number(None, lo=0, hi=1, lo_open=True, optional=True)
    min_trades: int | None = s.number(None, lo=0, integer=True, optional=True)
    min_paper_days: int | None = s.number(None, lo=1, integer=True, optional=True)
    max_tracking_error: float | None = s.number(None, lo=0, lo_open=True, optional=True)


@dataclass(frozen=True)
class StrategyConfig:
    kind: str = s.choice(choices=tuple(STRATEGIES))
    universe: str = s.text(max_length=64)
    frequency: str = s.choice(Frequency.HOUR.value, choices=FREQUENCIES)
    research: ResearchWindow = s.section(ResearchWindow)
    features: str | tuple[str, ...] = s.custom(_parse_features, "all")
    # Kind-specific; replaced by the registry's params dataclass in strategy_config_validate.
    model: Any = s.custom(lambda v: v, None)
    walk_forward: WalkForward = s.section(WalkForward)
    optimizer: OptimizerSettings = s.section(OptimizerSettings)
    costs: CostSettings = s.section(CostSettings)
    risk: RiskSettings = s.section(RiskSettings)
    gates: GateSettings = s.section(GateSettings)
    initial_cash: float = s.number(1_000_000.0, lo=0, lo_open=True)
    seed: int = s.number(7, lo=0, hi=2**31 - 1, integer=True)

    def to_dict(self) -> dict[str, Any]:
        return s.to_plain(self)


def strategy_config_validate(data: Any) -> StrategyConfig:
    """Validate a whole config. Raises ConfigValidationError with one (path, message) per problem."""
    if not isinstance(data, dict):
        raise ConfigValidationError([("", f"config must be an object, got {type(data).__name__}")])
    errors: list[tuple[str, str]] = []
    # The kind decides how `model` is read: settle it first.
    kind = data.get("kind")
    try:
        spec = strategy_spec(kind)
    except KeyError as exc:
        raise ConfigValidationError([("kind", "is required" if kind is None else str(exc))]) from None
    config = s.parse_section(StrategyConfig, {k: v for k, v in data.items() if k != "model"}, "", errors)
    params = s.parse_section(spec.params, data.get("model"), "model", errors)
    if params is not None and spec.check is not None:
        errors.extend((f"model.{name}", message) for name, message in spec.check(params))
    if config is not None:
        errors.extend(_cross_checks(config))
    if errors:
        raise ConfigValidationError(errors)
    return StrategyConfig(**{**{f: getattr(config, f) for f in config.__dataclass_fields__}, "model": params})


def _cross_checks(c: StrategyConfig) -> list[tuple[str, str]]:
    errors = []
    if c.research.end <= c.research.start:
        errors.append(
            ("research.end", f"must be after research.start ({c.research.start}), got {c.research.end}")
        )
    o = c.optimizer
    if o.vol_min is not None and o.vol_max is not None and o.vol_min >= o.vol_max:
        errors.append(("optimizer.vol_max", f"must be greater than vol_min ({o.vol_min}), got {o.vol_max}"))
    if o.sector_cap is not None and o.sector_cap < o.max_weight:
        errors.append(
            ("optimizer.sector_cap", f"must be at least max_weight ({o.max_weight}), got {o.sector_cap}")
        )
    if o.allocator == "topk" and o.top_k * o.max_weight < 1 - 1e-9:
        errors.append(
            (
                "optimizer.top_k",
                f"top_k x max_weight must reach 1 (fully invested), got {o.top_k} x {o.max_weight}",
            )
        )
    r = c.risk
    if not r.conservative_dd < r.risk_off_dd < r.halt_dd:
        errors.append(
            (
                "risk",
                "thresholds must increase: conservative_dd < risk_off_dd < halt_dd, "
                f"got {r.conservative_dd}, {r.risk_off_dd}, {r.halt_dd}",
            )
        )
    return errors
