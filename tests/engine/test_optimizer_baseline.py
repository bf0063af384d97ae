"""TopKEqualWeight: the baseline honours the same governor inputs as the optimizer."""

from __future__ import annotations

import numpy as np
import pytest

from workers.engine.allocation import AllocationContext
from workers.engine.optimizer import AllocationInputError, TopKEqualWeight


def ctx(alpha, w0=None, tradable=None, exposure_cap=1.0, allow_buys=True) -> AllocationContext:
    alpha = np.asarray(alpha, dtype=np.float64)
    n = alpha.shape[0]
    return AllocationContext(
        t=0,
        alpha=alpha,
        current_weights=np.zeros(n) if w0 is None else np.asarray(w0, dtype=np.float64),
        tradable=np.ones(n, dtype=bool) if tradable is None else np.asarray(tradable),
        price=np.full(n, 10.0),
        adv_dollar=np.full(n, 1e7),
        returns_window=np.zeros((5, n)),
        sector=np.zeros(n, dtype=np.int64),
        exposure_cap=exposure_cap,
        allow_buys=allow_buys,
    )


def test_top_k_equal_weight_with_cap_and_exclusions():
    alpha = [0.5, np.nan, 0.9, 0.1, 0.8, 0.7]
    tradable = [True, True, False, True, True, True]
    res = TopKEqualWeight(k=3, max_weight=0.5).allocate(ctx(alpha, tradable=tradable))
    # 2 is untradable, 1 has no view: the top three are 4, 5, 0
    np.testing.assert_allclose(res.weights, [1 / 3, 0, 0, 0, 1 / 3, 1 / 3])
    assert res.status == "baseline"


def test_max_weight_and_exposure_cap_leave_cash():
    res = TopKEqualWeight(k=2, max_weight=0.1).allocate(ctx([3.0, 2.0, 1.0]))
    np.testing.assert_allclose(res.weights, [0.1, 0.1, 0.0])
    res = TopKEqualWeight(k=2, max_weight=0.5).allocate(ctx([3.0, 2.0, 1.0], exposure_cap=0.6))
    np.testing.assert_allclose(res.weights, [0.3, 0.3, 0.0])


def test_sell_only_when_buys_halted():
    w0 = [0.05, 0.5, 0.2, 0.0]
    res = TopKEqualWeight(k=2, max_weight=0.5).allocate(ctx([3.0, 2.0, 1.0, 4.0], w0=w0, allow_buys=False))
    # targets would be names 3 and 0 at 0.5; buys halted: 0 keeps its 0.05, nothing new, the rest sold
    np.testing.assert_allclose(res.weights, [0.05, 0.0, 0.0, 0.0])
    assert (res.weights <= np.asarray(w0)).all()


def test_ties_are_deterministic():
    res = TopKEqualWeight(k=2, max_weight=1.0).allocate(ctx([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(res.weights, [0.5, 0.5, 0.0])


def test_bad_arguments():
    with pytest.raises(ValueError, match="k must be"):
        TopKEqualWeight(k=0)
    with pytest.raises(AllocationInputError, match="current_weights"):
        TopKEqualWeight(k=1).allocate(ctx([1.0, 2.0], w0=[0.1]))
