"""Property: no feature at bar t changes when anything after t changes (prices, volume, membership,
benchmark). Hypothesis picks the panel, the cut bar t and the perturbation."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.test_features import synthetic_panel
from workers.engine.features import compute_features
from workers.engine.panel import Panel

T = 280  # longer than the longest lookback (249), so every feature is defined somewhere


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    t=st.integers(0, T - 2),
    scale=st.floats(0.05, 0.8),
    drop_share=st.floats(0.0, 0.5),
    flip_members=st.booleans(),
)
def test_no_feature_reads_the_future(seed, t, scale, drop_share, flip_members):
    p = synthetic_panel(seed % 50, T=T, benchmark_open=True)
    rng = np.random.default_rng(seed)
    future = slice(t + 1, None)
    shape = (T - t - 1, p.shape[1])
    factor = np.exp(rng.normal(0, scale, shape))
    arrays = {k: getattr(p, k).copy() for k in ("open", "high", "low", "close", "volume", "member")}
    for k in ("open", "high", "low", "close"):
        arrays[k][future] *= factor
    arrays["volume"][future] *= rng.uniform(0, 3, shape)
    drop = rng.random(shape) < drop_share  # future bars disappear
    for k in ("open", "high", "low", "close", "volume"):
        arrays[k][future][drop] = np.nan
    if flip_members:
        arrays["member"][future] = ~arrays["member"][future]
    bench = p.benchmark.copy()
    bench[future] *= np.exp(rng.normal(0, scale, T - t - 1))
    bench_open = p.benchmark_open.copy()
    bench_open[future] = np.nan
    q = Panel(**{**p.__dict__, **arrays, "benchmark": bench, "benchmark_open": bench_open})
    before = compute_features(p, dtype=np.float64).values[:, : t + 1]
    after = compute_features(q, dtype=np.float64).values[:, : t + 1]
    np.testing.assert_array_equal(before, after)  # NaN-aware: NaN == NaN for assert_array_equal
