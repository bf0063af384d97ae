"""The desk's rule strategies are the engine's rules: every rule kind of the strategy registry names
an engine rule whose parameters (names and defaults) are exactly the kind's params schema, and on a
real universe the signal a rule run allocates from is point in time and members only."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from apps.strategies.registry import STRATEGIES
from workers.engine.rules import RULES, rule_params, rule_signal

RULE_SPECS = [spec for spec in STRATEGIES.values() if spec.rule is not None]


def test_every_engine_rule_is_a_registry_kind():
    assert sorted(spec.rule for spec in RULE_SPECS) == sorted(RULES)


@pytest.mark.parametrize("spec", RULE_SPECS, ids=lambda spec: spec.name)
def test_registry_params_are_the_engine_rule_parameters(spec):
    schema = {f.name: f.default for f in dataclasses.fields(spec.params)}
    assert schema == rule_params(spec.rule)
    # the registry's defaults are a valid engine call
    close = 50 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.02, (300, 4)), axis=0))
    assert np.isfinite(RULES[spec.rule](close, **schema)).any()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rule", "params"),
    [
        ("ma_crossover", {"fast": 5, "slow": 20}),
        ("momentum", {"lookback": 60, "skip": 5}),
        ("mean_reversion", {"lookback": 20, "entry_z": 0.5}),
    ],
)
def test_rule_signal_on_a_real_universe_reads_no_future_and_only_members(tiny_data, rule, params):
    from apps.marketdata.selectors.panel import panel_build

    panel = panel_build(
        universe=tiny_data, frequency="1d", start=dt.date(2016, 1, 1), end=dt.date(2018, 1, 1)
    ).panel
    full = rule_signal(panel, rule=rule, params=params)
    cut = 300
    head = rule_signal(panel.slice_rows(cut), rule=rule, params=params)
    np.testing.assert_array_equal(full[:cut], head)  # row t depends on rows <= t only
    assert (~panel.member).any()  # GE leaves the universe mid-way
    assert np.isnan(full[~panel.member]).all()
    assert np.isfinite(full).sum() > 100
