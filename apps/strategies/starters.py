"""Starter configs: for each registered kind, a config that runs on the data `make demo` loads
(fixtures/SOURCES.md), so a newcomer's first strategy works at the first click.

What the demo holds, and why the numbers below are what they are:
- daily: the 30-name Kaggle subset 2013-02-08..2018-02-07 (raw OHLCV) in the point-in-time S&P
  500 universe, with SPY daily as the benchmark. ~1,255 bars, so a walk-forward model trains on
  500 bars (two years) and retrains every 63 (a quarter); the default 2,000 would not fit.
- hourly: the Nasdaq-100 month 2025-10-01..2025-11-10 (6 bars a day, ~170 bars), whose S&P 500
  members trade. No SPY hourly bars cover that month, so learned models (whose labels are excess
  returns over SPY) cannot train there: the hourly starters are rules, with lookbacks in hours
  (6 bars = one day).
Every starter is a complete, valid config (tests/apps/strategies/test_starters.py checks each one
against the validator and the demo data).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

DEMO_UNIVERSE = "sp500"
DAILY_WINDOW = {"start": "2013-02-08", "end": "2018-02-07"}
HOURLY_WINDOW = {"start": "2025-10-01", "end": "2025-11-11"}
DAILY_WALK_FORWARD = {"train_bars": 500, "retrain_every": 63, "mode": "expanding"}
HOURLY_WALK_FORWARD = {"train_bars": 60, "retrain_every": 30, "mode": "expanding"}
# Ten names at 10% each: the 30-name daily subset has enough members with bars at every date.
TOPK = {"allocator": "topk", "top_k": 10, "max_weight": 0.1, "sector_cap": 0.4}


@dataclass(frozen=True)
class Starter:
    key: str
    kind: str
    label: str
    config: dict

    @property
    def frequency(self) -> str:
        return self.config["frequency"]


def _daily(kind: str, model: dict) -> dict:
    return {
        "kind": kind,
        "universe": DEMO_UNIVERSE,
        "frequency": "1d",
        "research": dict(DAILY_WINDOW),
        "walk_forward": dict(DAILY_WALK_FORWARD),
        "optimizer": dict(TOPK),
        "model": model,
    }


def _hourly(kind: str, model: dict) -> dict:
    return {
        "kind": kind,
        "universe": DEMO_UNIVERSE,
        "frequency": "1h",
        "research": dict(HOURLY_WINDOW),
        "walk_forward": dict(HOURLY_WALK_FORWARD),
        "optimizer": dict(TOPK),
        "model": model,
    }


STARTERS: tuple[Starter, ...] = (
    Starter(
        "ridge-daily",
        "ridge",
        "Ridge, daily S&P 500 names 2013-2018",
        _daily("ridge", {"alpha": 0.001}),
    ),
    Starter(
        "lgbm-daily",
        "lgbm",
        "LightGBM, daily S&P 500 names 2013-2018",
        # 100 rounds on ~15k rows trains in seconds on the desk's two cores.
        _daily("lgbm", {"n_rounds": 100, "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 100}),
    ),
    Starter(
        "ma_crossover-daily",
        "ma_crossover",
        "MA crossover 20/100 days, daily 2013-2018",
        _daily("ma_crossover", {"fast": 20, "slow": 100}),
    ),
    Starter(
        "momentum-daily",
        "momentum",
        "Momentum 120 days skip 5, daily 2013-2018",
        _daily("momentum", {"lookback": 120, "skip": 5}),
    ),
    Starter(
        "mean_reversion-daily",
        "mean_reversion",
        "Mean reversion 20 days, daily 2013-2018",
        _daily("mean_reversion", {"lookback": 20, "entry_z": 1.0}),
    ),
    Starter(
        "ma_crossover-hourly",
        "ma_crossover",
        "MA crossover 6/30 hours, Nasdaq-100 hourly Oct-Nov 2025",
        _hourly("ma_crossover", {"fast": 6, "slow": 30}),
    ),
    Starter(
        "momentum-hourly",
        "momentum",
        "Momentum 30 hours skip 1, Nasdaq-100 hourly Oct-Nov 2025",
        _hourly("momentum", {"lookback": 30, "skip": 1}),
    ),
    Starter(
        "mean_reversion-hourly",
        "mean_reversion",
        "Mean reversion 12 hours, Nasdaq-100 hourly Oct-Nov 2025",
        _hourly("mean_reversion", {"lookback": 12, "entry_z": 1.0}),
    ),
)
STARTERS_BY_KEY = {s.key: s for s in STARTERS}
DEFAULT_STARTER = "ridge-daily"

# A first parameter space per (kind, frequency) for the search form: values around the starter's.
SEARCH_SPACES: dict[tuple[str, str], dict[str, list]] = {
    ("ma_crossover", "1d"): {"model.fast": [5, 10, 20], "model.slow": [50, 100, 150]},
    ("momentum", "1d"): {"model.lookback": [60, 120, 250], "model.skip": [0, 5, 20]},
    ("mean_reversion", "1d"): {"model.lookback": [10, 20, 40], "model.entry_z": [0.5, 1.0, 1.5]},
    ("ma_crossover", "1h"): {"model.fast": [3, 6, 12], "model.slow": [24, 30, 48]},
    ("momentum", "1h"): {"model.lookback": [12, 30, 60], "model.skip": [0, 1, 3]},
    ("mean_reversion", "1h"): {"model.lookback": [6, 12, 24], "model.entry_z": [0.5, 1.0, 1.5]},
    # Not the starter's own 0.001: every candidate differs from the strategy, so the best one
    # is a real proposal to review.
    ("ridge", "1d"): {"model.alpha": [0.0003, 0.003, 0.03]},
    ("lgbm", "1d"): {"model.num_leaves": [15, 31, 63], "model.learning_rate": [0.03, 0.05, 0.1]},
}


def search_space(kind: str, frequency: str) -> dict[str, list]:
    """The first parameter space the search form offers (any frequency's, else empty)."""
    return SEARCH_SPACES.get((kind, frequency)) or SEARCH_SPACES.get((kind, "1d"), {})


def starter_choices() -> list[tuple[str, str]]:
    return [(s.key, s.label) for s in STARTERS]


def starter_config(key: str) -> dict:
    """A copy of the starter's config (callers may edit it)."""
    return copy.deepcopy(STARTERS_BY_KEY[key].config)
