"""The strategy registry: every strategy kind the desk can run, by name.

A kind names fixed engine pieces (a learned model or a rule, whether it consumes features) and
the dataclass of its parameters with defaults and bounds. User input only ever *selects* a kind
from this table; nothing here imports a module path taken from input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import schema as s


@dataclass(frozen=True)
class LgbmParams:
    n_rounds: int = s.number(200, lo=1, hi=5000, integer=True)
    learning_rate: float = s.number(0.05, lo=0, hi=1, lo_open=True)
    num_leaves: int = s.number(31, lo=2, hi=1024, integer=True)
    min_data_in_leaf: int = s.number(200, lo=1, integer=True)
    feature_fraction: float = s.number(0.8, lo=0, hi=1, lo_open=True)
    bagging_fraction: float = s.number(0.8, lo=0, hi=1, lo_open=True)
    lambda_l2: float = s.number(1.0, lo=0)


@dataclass(frozen=True)
class RidgeParams:
    alpha: float = s.number(1e-3, lo=0, lo_open=True)


@dataclass(frozen=True)
class MaCrossoverParams:
    fast: int = s.number(20, lo=1, integer=True)
    slow: int = s.number(100, lo=2, integer=True)


@dataclass(frozen=True)
class MomentumParams:
    lookback: int = s.number(120, lo=2, integer=True)
    skip: int = s.number(5, lo=0, integer=True)


@dataclass(frozen=True)
class MeanReversionParams:
    lookback: int = s.number(20, lo=2, integer=True)
    entry_z: float = s.number(1.0, lo=0, lo_open=True)


def _fast_below_slow(p: MaCrossoverParams) -> list[tuple[str, str]]:
    return [] if p.fast < p.slow else [("slow", f"must be greater than fast ({p.fast}), got {p.slow}")]


def _skip_below_lookback(p: MomentumParams) -> list[tuple[str, str]]:
    return (
        [] if p.skip < p.lookback else [("skip", f"must be less than lookback ({p.lookback}), got {p.skip}")]
    )


@dataclass(frozen=True)
class StrategySpec:
    """`model` is the engine's learned-model route (workers.engine.models) or None; `rule` a name
    in the engine's rule table (workers.engine.rules.RULES), whose keyword parameters and defaults
    are exactly `params`' fields, or None; exactly one of them is set."""

    name: str
    label: str
    description: str
    params: type
    model: str | None = None
    rule: str | None = None
    uses_features: bool = True
    check: Callable[[object], list[tuple[str, str]]] | None = None

    @property
    def trains(self) -> bool:
        """Learned models produce an artifact; rules are fully described by their params."""
        return self.model is not None


STRATEGIES: dict[str, StrategySpec] = {
    spec.name: spec
    for spec in (
        StrategySpec(
            "lgbm",
            "LightGBM ranker",
            "Gradient-boosted trees on point-in-time features, walk-forward retrained.",
            LgbmParams,
            model="lgbm",
        ),
        StrategySpec(
            "ridge",
            "Ridge regression",
            "Linear model on standardised features, walk-forward retrained.",
            RidgeParams,
            model="ridge",
        ),
        StrategySpec(
            "ma_crossover",
            "Moving-average crossover",
            "Long names whose fast moving average is above the slow one.",
            MaCrossoverParams,
            rule="ma_crossover",
            uses_features=False,
            check=_fast_below_slow,
        ),
        StrategySpec(
            "momentum",
            "Cross-sectional momentum",
            "Long the names with the best trailing return, skipping the most recent bars.",
            MomentumParams,
            rule="momentum",
            uses_features=False,
            check=_skip_below_lookback,
        ),
        StrategySpec(
            "mean_reversion",
            "Mean reversion",
            "Long names trading more than entry_z standard deviations below their mean.",
            MeanReversionParams,
            rule="mean_reversion",
            uses_features=False,
        ),
    )
}


class UnknownStrategyKind(KeyError):
    def __str__(self) -> str:
        return f"unknown strategy kind {self.args[0]!r}; registered: {', '.join(STRATEGIES)}"


def strategy_spec(kind: str) -> StrategySpec:
    try:
        return STRATEGIES[kind]
    except (KeyError, TypeError):
        raise UnknownStrategyKind(kind) from None


def strategy_kinds() -> list[tuple[str, str]]:
    """(name, label) pairs, for form choices."""
    return [(spec.name, spec.label) for spec in STRATEGIES.values()]
