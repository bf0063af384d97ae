"""The strategy config: defaults, round trip, every bad field named by its path, only registered
kinds and features."""

from __future__ import annotations

import pytest

from apps.strategies.config import ConfigValidationError, strategy_config_validate
from apps.strategies.registry import STRATEGIES

from .conftest import config


@pytest.mark.parametrize("kind", list(STRATEGIES))
def test_defaults_and_round_trip(kind):
    cfg = strategy_config_validate(config(kind))
    assert cfg.optimizer.max_weight == 0.10
    assert (cfg.costs.slippage_bps, cfg.costs.half_spread_bps) == (1.0, 0.5)
    assert (cfg.risk.conservative_dd, cfg.risk.risk_off_dd, cfg.risk.halt_dd) == (0.10, 0.15, 0.20)
    assert isinstance(cfg.model, STRATEGIES[kind].params)
    again = strategy_config_validate(cfg.to_dict())
    assert again == cfg
    assert again.to_dict() == cfg.to_dict()


def test_every_bad_field_is_named_with_its_path():
    bad = config(
        "ma_crossover",
        optimizer={"max_weight": 1.5, "allocatr": "topk"},
        model={"fast": 50, "slow": 10},
        costs={"slippage_bps": "1"},
        walk_forward={"mode": "sideways"},
        seed=True,
    )
    with pytest.raises(ConfigValidationError) as exc:
        strategy_config_validate(bad)
    errors = exc.value.by_path()
    assert errors["optimizer.max_weight"] == ["must be in (0, 1], got 1.5"]
    assert "unknown setting" in errors["optimizer.allocatr"][0]
    assert errors["model.slow"] == ["must be greater than fast (50), got 10"]
    assert errors["costs.slippage_bps"] == ["must be a number, got str"]
    assert "must be one of expanding, rolling" in errors["walk_forward.mode"][0]
    assert errors["seed"] == ["must be an integer, got bool"]
    assert "optimizer.max_weight: must be in (0, 1]" in str(exc.value)


def test_cross_field_checks():
    with pytest.raises(ConfigValidationError) as exc:
        strategy_config_validate(
            config(
                research={"start": "2022-01-01", "end": "2021-01-01"},
                risk={"conservative_dd": 0.2, "risk_off_dd": 0.15, "halt_dd": 0.3},
                optimizer={"vol_min": 0.3, "vol_max": 0.1},
            )
        )
    paths = exc.value.by_path()
    assert set(paths) == {"research.end", "risk", "optimizer.vol_max"}


@pytest.mark.parametrize("kind", ["nope", "os.system", "workers.engine.models.lgbm", None, 3])
def test_unknown_kind_is_rejected(kind):
    data = config()
    data["kind"] = kind
    with pytest.raises(ConfigValidationError) as exc:
        strategy_config_validate(data)
    assert list(exc.value.by_path()) == ["kind"]


def test_missing_required_and_wrong_type():
    with pytest.raises(ConfigValidationError) as exc:
        strategy_config_validate({"kind": "ridge"})
    assert exc.value.by_path() == {"universe": ["is required"]}
    with pytest.raises(ConfigValidationError, match="config must be an object"):
        strategy_config_validate(["kind", "ridge"])


def test_features_are_checked_against_the_engine_registry():
    features = pytest.importorskip(
        "workers.engine.features", reason="engine feature library not in this build"
    )
    name = features.feature_names()[0]
    assert strategy_config_validate(config("lgbm", features=[name])).features == (name,)
    with pytest.raises(ConfigValidationError) as exc:
        strategy_config_validate(config("lgbm", features=[name, "not_a_feature"]))
    assert exc.value.by_path() == {"features": ["unknown feature(s) not_a_feature"]}
    with pytest.raises(ConfigValidationError, match="unknown feature set"):
        strategy_config_validate(config("lgbm", features="everything"))
