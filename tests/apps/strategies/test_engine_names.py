"""One definition of each fact between the apps and the engine: the config -> engine name table
(tested both ways), bar frequencies, the market time zone, search objectives, strategy kinds."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from apps.strategies.config import (
    CostSettings,
    OptimizerSettings,
    RiskSettings,
    StrategyConfig,
    strategy_config_validate,
)
from apps.strategies.registry import STRATEGIES
from workers.engine.backtest import GovernorConfig
from workers.engine.costs import CostModel
from workers.engine.decide import configs as engine_configs
from workers.engine.market import FREQUENCIES, MARKET_TZ, Frequency
from workers.engine.objectives import OBJECTIVES
from workers.engine.optimizer import OptimizerConfig
from workers.engine.rules import RULES, rule_params

ROOT = Path(__file__).resolve().parents[3]


def _fields(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_every_optimizer_setting_has_exactly_one_engine_name():
    table = engine_configs.OPTIMIZER_KEYS
    assert set(table) | set(engine_configs.ALLOCATOR_KEYS) == _fields(OptimizerSettings)
    assert not set(table) & set(engine_configs.ALLOCATOR_KEYS)
    assert set(table.values()) <= _fields(OptimizerConfig)
    assert len(set(table.values())) == len(table)  # one-to-one: the inverse is a table too
    assert set(engine_configs.COST_KEYS) == _fields(CostSettings) and set(
        engine_configs.COST_KEYS
    ) <= _fields(CostModel)
    assert set(engine_configs.RISK_KEYS) == _fields(RiskSettings) <= _fields(GovernorConfig)


def test_config_to_engine_names_carry_every_value():
    data = {
        "kind": "momentum",
        "universe": "u",
        "optimizer": {
            "max_weight": 0.2,
            "sector_cap": 0.4,
            "turnover_cap": 0.7,
            "vol_min": 0.05,
            "vol_max": 0.3,
            "min_price": 7.5,
            "min_adv_dollar": 2e6,
            "risk_aversion": 3.0,
            "solver": "CLARABEL",
        },
    }
    section = strategy_config_validate(data).to_dict()["optimizer"]
    engine = engine_configs.optimizer_config(section)
    assert (engine.sector_soft_cap, engine.max_turnover) == (0.4, 0.7)
    for key, name in engine_configs.OPTIMIZER_KEYS.items():
        assert getattr(engine, name) == section[key], key


def test_engine_to_config_names_round_trip():
    engine = OptimizerConfig(
        risk_aversion=2.0,
        max_weight=0.15,
        min_price=3.0,
        min_adv_dollar=5e5,
        max_turnover=0.25,
        sector_soft_cap=0.3,
        vol_min=None,
        vol_max=0.2,
        solver="SCS",
    )
    section = engine_configs.optimizer_section(engine)
    assert section["turnover_cap"] == 0.25 and section["sector_cap"] == 0.3
    validated = strategy_config_validate({"kind": "momentum", "universe": "u", "optimizer": section})
    again = engine_configs.optimizer_config(validated.to_dict()["optimizer"])
    assert again == engine


def test_bar_frequency_is_one_enum():
    from apps.marketdata.models import Frequency as BarFrequency
    from apps.strategies.models import Frequency as StrategyFrequency

    assert StrategyFrequency is BarFrequency
    assert BarFrequency.choices == [(f.value, f.label) for f in Frequency]
    assert tuple(BarFrequency.values) == FREQUENCIES
    spec = next(f for f in dataclasses.fields(StrategyConfig) if f.name == "frequency").metadata["spec"]
    for value in FREQUENCIES:
        assert spec.parse(value) == value
    with pytest.raises(ValueError):
        spec.parse("5m")


def test_market_time_zone_and_frequencies_are_spelled_once():
    from django.conf import settings

    from apps.marketdata.selectors import market_tz

    assert market_tz().key == MARKET_TZ
    assert not hasattr(settings, "MARKET_TIME_ZONE")
    spelled = {
        "tz": re.compile(r"America/New_York"),
        "freq": re.compile(r"""\(\s*["']1h["'],\s*["']1d["']\s*\)"""),
    }
    found: dict[str, list[str]] = {k: [] for k in spelled}
    for top in ("apps", "workers", "tradingsite"):
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            text = path.read_text()
            for key, pattern in spelled.items():
                if pattern.search(text):
                    found[key].append(str(path.relative_to(ROOT)))
    assert found["tz"] == ["workers/engine/market.py"]
    assert found["freq"] == []


def test_search_objectives_are_the_engines():
    from apps.research.models import ParameterSearch

    assert ParameterSearch.Objective.choices == list(OBJECTIVES.items())


def test_registry_kinds_are_the_engines_models_and_rules():
    for kind, spec in STRATEGIES.items():
        assert spec.trains == engine_configs.is_learned(kind)
        if spec.trains:
            assert spec.model == kind and kind in engine_configs.LEARNED_MODELS
        else:
            assert spec.rule == kind and kind in RULES
            assert {f.name: f.default for f in dataclasses.fields(spec.params)} == rule_params(kind)
    assert set(STRATEGIES) == set(engine_configs.LEARNED_MODELS) | set(RULES)
