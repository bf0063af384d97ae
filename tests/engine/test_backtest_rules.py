import numpy as np
import pytest

from workers.engine.rules import (
    RuleError,
    crossovers,
    ma_crossover_weights,
    mean_reversion_weights,
    momentum_weights,
    sma,
)


def test_sma_is_trailing_and_nan_until_full():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(sma(x, 2)[:, 0], [np.nan, 1.5, 2.5, 3.5])


def test_crossovers_keep_the_previous_sign_through_ties():
    fast = np.array([[1.0], [2.0], [2.0], [3.0], [1.0]])
    slow = np.array([[2.0], [2.0], [2.0], [2.0], [2.0]])
    up, down = crossovers(fast, slow)
    # below, tie, tie, above -> one up-cross at bar 3; then below -> down-cross at bar 4
    assert np.flatnonzero(up[:, 0]).tolist() == [3]
    assert np.flatnonzero(down[:, 0]).tolist() == [4]


def test_ma_crossover_weights_decide_only_on_crossings():
    close = np.array([5, 4, 3, 2, 3, 4, 5, 6, 5, 4, 3, 2], dtype=float)
    w = ma_crossover_weights(close, fast=2, slow=3)
    decided = np.flatnonzero(~np.isnan(w[:, 0]))
    assert w[decided[0], 0] == 1.0 and w[decided[1], 0] == 0.0
    assert len(decided) == 2
    with pytest.raises(RuleError, match="shorter"):
        ma_crossover_weights(close, fast=3, slow=3)


def test_ranked_rules_pick_winners_and_losers():
    close = np.column_stack([np.linspace(10, 20, 30), np.linspace(10, 5, 30), np.full(30, 10.0)])
    mom = momentum_weights(close, lookback=5, top_k=1, every=5)
    rev = mean_reversion_weights(close, lookback=5, top_k=1, every=5)
    row = np.flatnonzero(~np.isnan(mom[:, 0]))[0]
    assert row == 5
    np.testing.assert_array_equal(mom[row], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(rev[row], [0.0, 1.0, 0.0])
