"""The parallel feature computation and its single-thread speed-ups change no value: a thread pool
gives bit-identical arrays to the plain loop (random panels and the real daily set), the memo
computes a shared intermediate once under concurrency, and the fast row rank equals bottleneck's."""

from __future__ import annotations

import threading

import bottleneck as bn
import numpy as np
import pytest

from bench._data import DAILY_PARQUET, load_daily_sp500
from tests.engine.test_features import synthetic_panel
from workers.engine.features import compute_features
from workers.engine.features.context import FeatureContext
from workers.engine.features.ops import row_ranks


def assert_bit_identical(a: np.ndarray, b: np.ndarray) -> None:
    """Same shape, dtype and bytes (so NaN positions and signed zeros agree too)."""
    assert a.shape == b.shape and a.dtype == b.dtype
    assert np.array_equal(a, b, equal_nan=True)
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_thread_pool_gives_bit_identical_features(seed, dtype):
    p = synthetic_panel(seed=seed, T=400, N=12, benchmark_open=bool(seed % 2))
    one = compute_features(p, dtype=dtype, n_threads=1)
    for n in (2, 4):
        many = compute_features(p, dtype=dtype, n_threads=n)
        assert many.names == one.names
        assert_bit_identical(many.values, one.values)


def test_thread_pool_with_a_subset_whose_dependency_is_not_requested():
    p = synthetic_panel(seed=3, T=300, N=10)
    names = ["rank_ret_5", "z_ret_5", "sect_ret_5", "resid_ret_5", "resid_ret_20", "gap_mean_5"]
    assert_bit_identical(
        compute_features(p, names, n_threads=2).values, compute_features(p, names, n_threads=1).values
    )


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_n_threads_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match="n_threads"):
        compute_features(synthetic_panel(T=30), ["ret_1"], n_threads=bad)


def test_memo_computes_a_shared_intermediate_once_under_concurrency():
    ctx = FeatureContext(synthetic_panel(T=30))
    n = 4
    calls = []
    together = threading.Barrier(n)  # every thread calls memo at the same moment
    second_call = threading.Event()

    def make() -> np.ndarray:
        calls.append(1)
        if len(calls) > 1:
            second_call.set()
        # Hold the first computation until a second caller gets in (a memo without its lock) or,
        # with the lock, well after the other threads have queued on it; a wait, not a sleep.
        second_call.wait(timeout=0.5)
        return np.arange(3.0)

    results = []

    def worker() -> None:
        together.wait()
        results.append(ctx.memo("k", make))

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(results) == n and all(r is results[0] for r in results)


def test_row_ranks_equal_bottleneck_with_ties_nans_infinities_and_signed_zeros():
    rng = np.random.default_rng(7)
    for trial in range(300):
        T, N = int(rng.integers(1, 25)), int(rng.integers(1, 40))
        a = rng.integers(-3, 4, (T, N)).astype(np.float64) * rng.choice([1.0, 0.5, 1e-300], (T, N))
        a[rng.random((T, N)) < 0.3] = np.nan
        a[rng.random(T) < 0.2] = np.nan  # whole empty rows
        if trial % 3 == 0:
            a[rng.random((T, N)) < 0.1] = -np.inf
        if trial % 7 == 0:
            a[rng.random((T, N)) < 0.1] = np.inf  # the bottleneck fallback
        if trial % 5 == 0:
            a[rng.random((T, N)) < 0.2] = -0.0
        assert_bit_identical(row_ranks(a), bn.nanrankdata(a, axis=1))
    wide = rng.normal(size=(50, 503)).round(2)  # many ties across a realistic width
    wide[rng.random(wide.shape) < 0.1] = np.nan
    assert_bit_identical(row_ranks(wide), bn.nanrankdata(wide, axis=1))
    assert row_ranks(np.empty((0, 5))).shape == (0, 5)
    with pytest.raises(ValueError, match="2-D"):
        row_ranks(np.zeros(3))


@pytest.mark.skipif(not DAILY_PARQUET.exists(), reason=f"real daily data not present at {DAILY_PARQUET}")
def test_real_daily_set_thread_pool_is_bit_identical():
    p = load_daily_sp500()
    one = compute_features(p, n_threads=1)
    two = compute_features(p, n_threads=2)
    assert two.names == one.names
    for name, a, b in zip(one.names, one.values, two.values, strict=True):
        assert a.tobytes() == b.tobytes(), name
