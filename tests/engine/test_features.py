"""The feature library: registry contract, hand-checked values, definedness rules, bad inputs, and
the live last-row update equal to the full computation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from bench._data import DAILY_PARQUET, load_daily_sp500
from workers.engine.features import (
    FEATURES,
    KINDS,
    compute_features,
    compute_features_last,
    feature,
    feature_names,
    required_lookback,
)
from workers.engine.panel import Panel, PanelError

BAR_KINDS = ("price", "volatility", "volume", "market", "factor")


def synthetic_panel(
    seed: int = 0, T: int = 320, N: int = 8, *, holes: float = 0.03, benchmark_open: bool = False
) -> Panel:
    """A random-walk OHLCV panel with missing bars, membership changes, 3 sectors (one name with an
    unknown sector), a late-starting benchmark and a few zero-volume bars. Deterministic per seed."""
    rng = np.random.default_rng(seed)
    mkt = rng.normal(0.0003, 0.01, T)
    beta = rng.uniform(0.5, 1.5, N)
    logret = mkt[:, None] * beta + rng.normal(0, 0.015, (T, N))
    close = 40.0 * np.exp(np.cumsum(logret, axis=0))
    open_ = close * np.exp(rng.normal(0, 0.006, (T, N)))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.008, (T, N))))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.008, (T, N))))
    volume = rng.uniform(1e5, 1e6, (T, N)).round()
    volume[rng.random((T, N)) < 0.01] = 0.0
    missing = rng.random((T, N)) < holes
    missing[: T // 4, N - 1] = True  # a late listing
    for arr in (open_, high, low, close, volume):
        arr[missing] = np.nan
    member = np.ones((T, N), dtype=bool)
    member[T // 2 :, 0] = False  # leaves the index half-way
    member[: T // 3, 1] = False  # joins late
    bench = 100.0 * np.exp(np.cumsum(mkt))
    bench[:10] = np.nan  # benchmark history starts later than the stocks'
    bench_open = bench * np.exp(rng.normal(0, 0.003, T)) if benchmark_open else None
    return Panel(
        index=np.datetime64("2020-01-02T21:00", "ns") + np.arange(T) * np.timedelta64(1, "D"),
        symbols=tuple(f"S{i}" for i in range(N)),
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        member=member,
        sector=np.array([i % 3 for i in range(N - 1)] + [-1], dtype=np.int64),
        benchmark=bench,
        benchmark_open=bench_open,
    )


def hand_panel(close, *, open_=None, volume=None, member=None, benchmark=None, sector=None) -> Panel:
    c = np.asarray(close, dtype=np.float64)
    c = c[:, None] if c.ndim == 1 else c
    o = c.copy() if open_ is None else np.asarray(open_, dtype=np.float64).reshape(c.shape)
    T, N = c.shape
    return Panel(
        index=np.datetime64("2021-03-01T21:00", "ns") + np.arange(T) * np.timedelta64(1, "D"),
        symbols=tuple(f"S{i}" for i in range(N)),
        open=o,
        high=np.fmax(o, c),
        low=np.fmin(o, c),
        close=c,
        volume=np.full((T, N), 1e6) if volume is None else np.asarray(volume, dtype=np.float64),
        member=np.isfinite(c) if member is None else np.asarray(member, dtype=bool),
        sector=np.zeros(N, dtype=np.int64) if sector is None else np.asarray(sector, dtype=np.int64),
        benchmark=np.full(T, np.nan) if benchmark is None else np.asarray(benchmark, dtype=np.float64),
    )


def values(panel: Panel, name: str) -> np.ndarray:
    return compute_features(panel, [name], dtype=np.float64).values[0]


# --- registry ---------------------------------------------------------------------------------------


def test_registry_has_50_plus_features_of_every_required_kind():
    assert len(FEATURES) >= 50
    for kind in ("price", "volatility", "volume", "cross_sectional", "market", "freshness"):
        assert feature_names(kind), f"no {kind} features"
    assert sorted(feature_names()) == sorted(FEATURES)
    assert all(f.kind in KINDS and f.lookback >= 0 and f.doc for f in FEATURES.values())
    assert required_lookback(["ret_1", "ret_60"]) == 60
    assert required_lookback() == max(f.lookback for f in FEATURES.values())


def test_registry_rejects_duplicates_unknown_kinds_and_unknown_names():
    with pytest.raises(ValueError, match="registered twice"):
        feature("ret_5", lookback=5, kind="price")(lambda ctx: ctx.close)
    with pytest.raises(ValueError, match="unknown kind"):
        feature("x_new", lookback=1, kind="astrology")
    with pytest.raises(KeyError, match="unknown feature"):
        compute_features(synthetic_panel(T=30), ["ret_5", "no_such_feature"])
    with pytest.raises(ValueError, match="unknown feature kind"):
        feature_names("astrology")


# --- hand-checked values ------------------------------------------------------------------------------


def test_returns_moving_averages_and_rsi_by_hand():
    close = np.array([10.0, 11, 12, 11, 13, 14, 15, 14, 16, 17, 18, 19, 18, 20, 21, 22])
    p = hand_panel(close)
    ret5 = values(p, "ret_5")[:, 0]
    assert np.isnan(ret5[:5]).all()
    np.testing.assert_allclose(ret5[5:], np.log(close[5:] / close[:-5]), rtol=1e-12)
    dist = values(p, "dist_ma_10")[:, 0]
    assert np.isnan(dist[:9]).all()
    np.testing.assert_allclose(dist[9], close[9] / close[:10].mean() - 1, rtol=1e-12)
    rsi = values(p, "rsi_14")[:, 0]
    d = np.diff(np.log(close[:15]))
    assert rsi[14] == pytest.approx(100 * d[d > 0].sum() / np.abs(d).sum())
    flat = values(hand_panel(np.full(20, 5.0)), "rsi_14")[:, 0]
    assert flat[14:] == pytest.approx(np.full(6, 50.0))


def test_gap_breakout_and_volume_surprise_by_hand():
    close = np.array([10.0] * 21 + [12.0])
    open_ = np.array([10.0] * 21 + [11.0])
    volume = np.array([[100.0]] * 21 + [[300.0]])
    p = hand_panel(close, open_=open_, volume=volume)
    assert values(p, "gap_open")[21, 0] == pytest.approx(np.log(11 / 10))
    assert values(p, "intraday_ret")[21, 0] == pytest.approx(np.log(12 / 11))
    assert values(p, "breakout_high_20")[21, 0] == pytest.approx(np.log(12 / 10))
    assert values(p, "volume_surprise_20")[21, 0] == pytest.approx(np.log(3.0))


def test_beta_is_exact_for_a_levered_copy_of_the_benchmark():
    rng = np.random.default_rng(3)
    bench_ret = rng.normal(0, 0.01, 80)
    bench = 100 * np.exp(np.cumsum(bench_ret))
    stock = 20 * np.exp(np.cumsum(2.0 * bench_ret))
    p = hand_panel(stock, benchmark=bench)
    fs = compute_features(p, ["beta_60", "corr_mkt_60", "idio_vol_60", "resid_ret_5"], dtype=np.float64)
    beta, corr, idio, resid = fs.values[:, :, 0]
    assert np.isnan(beta[:60]).all()
    np.testing.assert_allclose(beta[60:], 2.0, rtol=1e-8)
    np.testing.assert_allclose(corr[60:], 1.0, rtol=1e-8)
    np.testing.assert_allclose(idio[60:], 0.0, atol=1e-6)
    np.testing.assert_allclose(resid[60:], 0.0, atol=1e-9)


def test_cross_sectional_rank_zscore_and_sector_demeaning_use_members_only():
    # 4 names, 2 sectors; name 3 is not a member at the last bar and must not move the others' ranks.
    close = np.array([[10.0, 10, 10, 10], [11.0, 10.5, 9.0, 30.0]])
    member = np.array([[True] * 4, [True, True, True, False]])
    p = hand_panel(close, member=member, sector=[0, 0, 1, 1])
    fs = compute_features(p, ["ret_1", "rank_ret_1", "sect_ret_5", "z_ret_5"], dtype=np.float64)
    ret1, rank = fs.values[0, 1], fs.values[1, 1]
    np.testing.assert_allclose(rank[:3], [1.0, 2 / 3, 1 / 3])
    assert np.isnan(rank[3]) and np.isfinite(ret1[3])  # time-series feature stays, rank does not
    p6 = hand_panel(
        np.vstack([close[:1]] * 5 + [close[1:]]), member=np.vstack([member[:1]] * 5 + [member[1:]])
    )
    p6 = Panel(**{**p6.__dict__, "sector": np.array([0, 0, 1, 1])})
    fs6 = compute_features(p6, ["ret_5", "sect_ret_5", "z_ret_5"], dtype=np.float64)
    r5, sect, z = fs6.values[:, 5]
    assert sect[0] == pytest.approx(r5[0] - (r5[0] + r5[1]) / 2)
    assert sect[2] == pytest.approx(0.0)  # alone in its sector among members
    assert np.isnan(sect[3]) and np.isnan(z[3])
    m, s = r5[:3].mean(), r5[:3].std(ddof=1)
    np.testing.assert_allclose(z[:3], (r5[:3] - m) / s)


def test_freshness_counts_bars_since_last_price():
    close = np.array([10.0] * 22 + [np.nan, np.nan, 11.0])
    p = hand_panel(close)
    since = values(p, "bars_since_bar")[:, 0]
    np.testing.assert_array_equal(since[20:], [0, 0, 1, 2, 0])
    gap = values(p, "prev_bar_gap")[:, 0]
    assert gap[24] == 3 and gap[21] == 1 and np.isnan(gap[23])
    assert values(p, "coverage_20")[24, 0] == pytest.approx(18 / 20)


# --- definedness --------------------------------------------------------------------------------------


def test_nan_before_lookback_and_where_undefined():
    p = synthetic_panel(1, T=340)
    fs = compute_features(p)
    assert fs.values.shape == (len(FEATURES), 340, 8) and fs.values.dtype == np.float32
    has_bar, universe = p.has_bar, p.member & p.has_bar
    for i, name in enumerate(fs.names):
        spec, v = FEATURES[name], fs.values[i]
        assert np.isnan(v[: spec.lookback]).all(), name
        if spec.kind in BAR_KINDS:
            assert np.isnan(v[~has_bar]).all(), name
        if spec.kind == "cross_sectional":
            assert np.isnan(v[~universe]).all(), name
        assert np.isfinite(v[spec.lookback + 30 :][has_bar[spec.lookback + 30 :]]).any(), (
            f"{name} never defined"
        )
        assert not np.isinf(v).any(), name


def test_stack_and_to_frame_flatten_in_time_order():
    p = synthetic_panel(2, T=80)
    fs = compute_features(p, ["ret_1", "rvol_5", "rank_ret_5"])
    X, rows = fs.stack(p.has_bar)
    assert X.shape == (int(p.has_bar.sum()), 3) and rows.shape == (len(X), 2)
    assert (np.diff(rows[:, 0]) >= 0).all()
    t, n = rows[17]
    np.testing.assert_array_equal(X[17], fs.values[:, t, n])
    frame = fs.to_frame(p.has_bar)
    assert list(frame.columns) == ["ret_1", "rvol_5", "rank_ret_5"] and len(frame) == len(X)
    assert frame.index[17] == (np.datetime64(p.index[t], "ns"), p.symbols[n])
    with pytest.raises(ValueError, match="mask must be"):
        fs.stack(p.has_bar[:-1])


# --- the live update ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 5])
def test_last_row_update_equals_full_computation(seed):
    p = synthetic_panel(seed, T=420, benchmark_open=bool(seed))
    full = compute_features(p, dtype=np.float64).values
    L = required_lookback() + 1
    for t in (L - 1, 333, 419):
        tail = p.slice_rows(t + 1, start=t + 1 - L)
        last = compute_features_last(tail)
        assert last.shape == (len(FEATURES), p.shape[1])
        for i, name in enumerate(FEATURES):
            np.testing.assert_allclose(last[i], full[i, t], rtol=1e-9, atol=1e-9, err_msg=f"{name} at t={t}")


def test_last_row_update_with_short_history_matches_full_on_that_history():
    p = synthetic_panel(4, T=40)
    np.testing.assert_allclose(
        compute_features_last(p), compute_features(p, dtype=np.float64).values[:, -1], rtol=1e-9, atol=1e-9
    )
    assert compute_features_last(p.slice_rows(0)).shape == (len(FEATURES), p.shape[1])


# --- bad inputs ---------------------------------------------------------------------------------------


def test_bad_inputs_give_nan_not_garbage_and_no_warnings():
    p = synthetic_panel(6, T=260, holes=0.1)
    o, c = p.open.copy(), p.close.copy()
    o[:, 2], c[:, 2] = np.nan, np.nan
    o[100:103, 2], c[100:103, 2] = 20.0, 21.0  # a name with only 3 bars
    member = p.member.copy()
    member[150] = False  # an empty-universe bar
    q = Panel(
        **{
            **p.__dict__,
            "open": o,
            "close": c,
            "high": np.fmax(p.high, np.fmax(o, c)),
            "low": np.fmin(p.low, np.fmin(o, c)),
            "member": member,
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fs = compute_features(q, dtype=np.float64)
    v = fs.values
    kinds = np.array([FEATURES[n].kind for n in fs.names])
    # Only 3 bars: nothing about the name itself that needs more than 2 bars of history is defined
    # (market context does not depend on the name's history; freshness describes the gaps).
    own = ~np.isin(kinds, ["freshness", "market"])
    short = [i for i, n in enumerate(fs.names) if FEATURES[n].lookback >= 3 and own[i]]
    assert np.isnan(v[short][:, :, 2]).all()
    assert np.isnan(v[kinds == "cross_sectional"][:, 150, :]).all()
    assert np.isfinite(v[kinds == "cross_sectional"][:, 151, :]).any()
    market = v[kinds == "market"][:, 150, :]
    assert np.isnan(market[fs.names.index("breadth_ma_50") - list(kinds).index("market")]).all()


def test_panel_refuses_non_positive_prices():
    p = synthetic_panel(7, T=30)
    close = p.close.copy()
    close[5, 3] = 0.0
    with pytest.raises(PanelError, match="close has a non-positive price for S3 at row 5"):
        Panel(**{**p.__dict__, "close": close})
    with pytest.raises(PanelError, match="benchmark_open"):
        Panel(**{**p.__dict__, "benchmark_open": np.full(30, -1.0)})


@pytest.mark.shared_data
@pytest.mark.skipif(
    not DAILY_PARQUET.exists(), reason=f"needs the shared daily S&P 500 set at {DAILY_PARQUET}"
)
def test_real_daily_data_live_update_matches_and_nothing_is_infinite():
    symbols = ["AAPL", "MSFT", "XOM", "JPM", "KO", "PFE", "CAT", "NEE", "AMZN", "GE", "T", "WMT"]
    p = load_daily_sp500(start="2016-01-01", end="2019-01-01", symbols=symbols)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fs = compute_features(p, dtype=np.float64)
    assert not np.isinf(fs.values).any()
    assert np.isfinite(fs.values[:, -1][:, p.has_bar[-1]]).mean() > 0.9
    L = required_lookback() + 1
    T = p.shape[0]
    for t in (L, T - 1):
        last = compute_features_last(p.slice_rows(t + 1, start=t + 1 - L))
        np.testing.assert_allclose(last, fs.values[:, t], rtol=1e-9, atol=1e-9)
