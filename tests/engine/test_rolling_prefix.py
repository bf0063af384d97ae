"""A trailing-window value at bar t is the same whether the data ends at t (the live kernel's
panel up to t) or runs on (the backtest's whole panel), also in the first rows, where fewer rows
than one window exist but `min_count` of them do (before: NaN on the short array, a value on the
long one, so the kernel and the backtest disagreed on a mean-reversion signal at bar 17)."""

from __future__ import annotations

import numpy as np
import pytest

from workers.engine.features.ops import ROLLING, last_window


@pytest.mark.parametrize("op", sorted(ROLLING))
def test_rolling_ops_on_a_prefix_equal_the_whole_arrays_rows(op):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 4))
    x[:2, 1] = np.nan
    x[10, 2] = np.nan
    fn = ROLLING[op]
    whole = fn(x, 20)
    for stop in range(1, 60):
        np.testing.assert_array_equal(fn(x[:stop], 20), whole[:stop], err_msg=f"{op} rows < {stop}")
    # The rows between min_count and a full window are defined (18 of 20 values), not blanked.
    assert np.isfinite(whole[17, 0]) and np.isnan(whole[16, 0])


@pytest.mark.parametrize("op", sorted(ROLLING))
def test_last_window_on_a_short_array_is_the_rolling_ops_last_row(op):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(19, 3))
    x[0, 2] = np.nan
    np.testing.assert_allclose(last_window(op, x, 20), ROLLING[op](x, 20)[-1:], rtol=1e-12)
    assert np.isfinite(last_window(op, x, 20)).all()
