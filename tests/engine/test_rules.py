"""Rule scores (the registry's parameters) by hand, point in time and members only; the weight
panels are built on them. The weight helpers' original cases live in test_backtest_rules.py."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine.conftest import make_panel, random_panel
from workers.engine.rules import (
    RULES,
    RuleError,
    ma_crossover,
    ma_crossover_weights,
    ma_spread,
    mean_reversion,
    mean_reversion_weights,
    momentum,
    momentum_weights,
    rule_params,
    rule_signal,
    sma,
)

PARAMS = {
    "ma_crossover": {"fast": 5, "slow": 20},
    "momentum": {"lookback": 30, "skip": 5},
    "mean_reversion": {"lookback": 20, "entry_z": 0.5},
}


def test_registered_rules_and_their_parameters():
    assert set(RULES) == set(PARAMS)
    assert rule_params("ma_crossover") == {"fast": 20, "slow": 100}
    assert rule_params("momentum") == {"lookback": 120, "skip": 5}
    assert rule_params("mean_reversion") == {"lookback": 20, "entry_z": 1.0}


def test_ma_crossover_scores_how_far_fast_is_above_slow():
    close = np.array([4.0, 2.0, 3.0, 5.0, 1.0])
    spread = ma_spread(close, fast=1, slow=2)[:, 0]
    # slow SMA: nan, 3, 2.5, 4, 3 -> close/slow - 1
    np.testing.assert_allclose(spread, [np.nan, 2 / 3 - 1, 3 / 2.5 - 1, 5 / 4 - 1, 1 / 3 - 1])
    score = ma_crossover(close, fast=1, slow=2)[:, 0]
    np.testing.assert_allclose(score, [np.nan, np.nan, 0.2, 0.25, np.nan])


def test_momentum_skips_the_most_recent_bars():
    close = np.array([1.0, 2.0, 4.0, 8.0, 100.0])
    score = momentum(close, lookback=3, skip=1)[:, 0]
    # row t: log(close[t-1]) - log(close[t-3]); the jump at the last bar is skipped
    np.testing.assert_allclose(score, [np.nan, np.nan, np.nan, np.log(4.0), np.log(4.0)])
    np.testing.assert_allclose(momentum(close, lookback=1, skip=0)[1:, 0], np.log(close[1:] / close[:-1]))


def test_mean_reversion_scores_minus_z_beyond_entry():
    close = np.array([[10.0, 10.0], [11.0, 10.0], [12.0, 10.0], [6.0, 10.0]])
    score = mean_reversion(close, lookback=3, entry_z=1.0)
    window = np.array([11.0, 12.0, 6.0])
    z = (6.0 - window.mean()) / window.std(ddof=1)  # -1.12
    np.testing.assert_allclose(score[3, 0], -z)
    assert np.isnan(score[:3, 0]).all()  # before: no full window, or not below the mean enough
    assert np.isnan(score[:, 1]).all()  # a flat name has no z
    assert np.isnan(mean_reversion(close, lookback=3, entry_z=1.2)[3, 0])  # -1.12 is not beyond -1.2


@pytest.mark.parametrize(
    ("rule", "params", "message"),
    [
        ("ma_crossover", {"fast": 20, "slow": 20}, "shorter"),
        ("ma_crossover", {"fast": 0, "slow": 20}, "fast must be an integer >= 1"),
        ("momentum", {"lookback": 5, "skip": 5}, r"skip \(5\) must be less than lookback \(5\)"),
        ("momentum", {"lookback": 5.5, "skip": 0}, "lookback must be an integer"),
        ("mean_reversion", {"lookback": 1, "entry_z": 1.0}, "lookback must be an integer >= 2"),
        ("mean_reversion", {"lookback": 20, "entry_z": 0}, "entry_z must be a finite number > 0"),
        ("mean_reversion", {"lookback": 20, "entry_z": float("nan")}, "entry_z"),
    ],
)
def test_bad_parameters_are_named(rule, params, message):
    with pytest.raises(RuleError, match=message):
        RULES[rule](np.ones((30, 2)), **params)


def test_rule_signal_refuses_unknown_rules_and_parameters():
    panel = random_panel(0)
    with pytest.raises(RuleError, match="unknown rule 'breakout'; registered: ma_crossover"):
        rule_signal(panel, rule="breakout", params={})
    with pytest.raises(RuleError, match="has no parameter.* top_k; it takes lookback, skip"):
        rule_signal(panel, rule="momentum", params={"lookback": 10, "top_k": 3})


@pytest.mark.parametrize("rule", sorted(PARAMS))
def test_rule_signal_reads_no_future_and_only_members(rule):
    panel = random_panel(3, T=200, N=8)
    full = rule_signal(panel, rule=rule, params=PARAMS[rule])
    for cut in (40, 97, 150):
        head = rule_signal(panel.slice_rows(cut), rule=rule, params=PARAMS[rule])
        np.testing.assert_array_equal(full[:cut], head)  # row t depends on rows <= t only
    assert np.isnan(full[~panel.member]).all()
    assert np.isfinite(full[:, 0]).any() and np.isfinite(full[:, -1]).any()  # members do get views
    assert np.isfinite(full).sum() > 100
    unmasked = RULES[rule](panel.close, **PARAMS[rule])
    assert np.isfinite(unmasked[~panel.member]).any()  # the mask, not the rule, removed those


def test_sma_tolerates_a_few_missing_bars_but_not_a_short_history():
    x = np.arange(1.0, 31.0)
    x[20] = np.nan
    out = sma(x, 10)[:, 0]
    assert np.isnan(out[:9]).all()  # fewer than 10 rows: never a partial first window
    np.testing.assert_allclose(out[25], np.mean([v for v in x[16:26] if np.isfinite(v)]))
    x[22] = np.nan  # two missing bars in a 10-bar window: below the 9 required
    assert np.isnan(sma(x, 10)[25, 0])
    np.testing.assert_array_equal(sma(np.array([1.0, np.nan, 3.0]), 2)[:, 0], [np.nan] * 3)


def test_ma_crossover_weights_trade_when_the_score_view_flips():
    rng = np.random.default_rng(5)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (300, 3)), axis=0))
    w = ma_crossover_weights(close, fast=5, slow=20)
    view = np.isfinite(ma_crossover(close, fast=5, slow=20))
    spread = ma_spread(close, fast=5, slow=20)
    flips = np.zeros_like(view)
    flips[1:] = (view[1:] != view[:-1]) & np.isfinite(spread[:-1])  # no ties in random prices
    decided = ~np.isnan(w[:, 0])
    np.testing.assert_array_equal(decided, flips.any(axis=1))
    assert decided.sum() >= 10
    rows = np.flatnonzero(decided)
    on_flip = flips[rows]
    np.testing.assert_array_equal(w[rows][on_flip], view[rows][on_flip] / 3)


def test_ranked_weights_follow_the_scores():
    rng = np.random.default_rng(9)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (120, 12)), axis=0))
    w = momentum_weights(close, lookback=20, skip=5, top_k=3, every=10)
    score = momentum(close, lookback=20, skip=5)
    rows = np.flatnonzero(~np.isnan(w[:, 0]))
    assert rows.tolist() == list(range(20, 120, 10))
    for t in rows:
        best = np.argsort(-score[t])[:3]
        assert set(np.flatnonzero(w[t])) == set(best) and np.isclose(w[t].sum(), 1.0)
    rev = mean_reversion_weights(close, lookback=10, entry_z=1.5, top_k=3, every=10)
    z_score = mean_reversion(close, lookback=10, entry_z=1.5)
    for t in np.flatnonzero(~np.isnan(rev[:, 0])):
        held = np.flatnonzero(rev[t])
        assert set(held) <= set(np.flatnonzero(np.isfinite(z_score[t])))
        assert len(held) == min(3, np.isfinite(z_score[t]).sum())
    # a name never stretched below its mean: no position at all, the book stays in cash
    flat_up = np.linspace(10, 20, 40)[:, None]
    assert np.nansum(mean_reversion_weights(flat_up, lookback=10, top_k=1, every=5)) == 0.0


def test_ma_crossover_view_ignores_a_missing_bar_in_the_rule_signal():
    close = np.concatenate([np.linspace(10, 20, 60), np.linspace(20, 30, 60)])[:, None]
    close[80, 0] = np.nan  # one missing bar: the 20-bar average keeps its view
    panel = make_panel(close)
    signal = rule_signal(panel, rule="ma_crossover", params={"fast": 5, "slow": 20})
    assert np.isfinite(signal[85:, 0]).all()
