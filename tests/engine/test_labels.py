"""Labels: execution-aligned timing (decide at t, enter at the open of t+1), NaN where the future
path is incomplete, and never visible to features at the same bar."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine.test_features import hand_panel, synthetic_panel
from workers.engine.features import FEATURES, compute_features
from workers.engine.labels import downside_event, forward_excess_return, label_horizon_bars
from workers.engine.panel import Panel


def test_label_at_t_uses_open_of_t_plus_1_and_t_plus_6():
    T = 12
    open_ = 100.0 + np.arange(T) ** 2  # distinct numbers so the bars used are identifiable
    close = open_ + 0.5
    bench = 200.0 + 3.0 * np.arange(T)
    p = hand_panel(close, open_=open_, benchmark=bench)
    y = forward_excess_return(p, horizon=5)[:, 0]
    t = 2
    expected = (open_[t + 6] / open_[t + 1] - 1) - (bench[t + 5] / bench[t] - 1)  # close-only fallback
    assert y[t] == pytest.approx(expected, rel=1e-12)
    assert np.isnan(y[T - 6 :]).all() and np.isfinite(y[: T - 6]).all()
    bench_open = bench - 1.0
    q = Panel(**{**p.__dict__, "benchmark_open": bench_open})
    yq = forward_excess_return(q, horizon=5)[:, 0]
    assert yq[t] == pytest.approx(
        (open_[t + 6] / open_[t + 1] - 1) - (bench_open[t + 6] / bench_open[t + 1] - 1)
    )
    assert label_horizon_bars(5) == 6


def test_label_is_nan_when_any_needed_future_bar_is_missing():
    close = np.full(15, 10.0)
    close[8] = np.nan
    p = hand_panel(close, benchmark=np.full(15, 50.0))
    y = forward_excess_return(p, horizon=3)[:, 0]
    # t reads bars t+1 .. t+4; bar 8 is missing -> t = 4..7 undefined.
    assert np.isnan(y[4:8]).all()
    assert np.isfinite(y[[0, 1, 2, 3, 8, 9, 10]]).all()  # t=8 itself has no bar, its future is complete
    bench = np.full(15, 50.0)
    bench[6] = np.nan
    yb = forward_excess_return(hand_panel(np.full(15, 10.0), benchmark=bench), horizon=3)[:, 0]
    assert np.isnan(yb[[3, 6]]).all() and np.isfinite(yb[[2, 4, 5, 7]]).all()


def test_downside_event_by_hand():
    rng = np.random.default_rng(0)
    T = 40
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, T)))
    open_ = close.copy()
    p = hand_panel(close, open_=open_)
    low = p.low.copy()
    t = 25
    lr = np.diff(np.log(close))[t - 20 : t]
    threshold = -2.0 * lr.std(ddof=1) * np.sqrt(5)
    low[t + 3, 0] = open_[t + 1] * (1 + 1.2 * threshold)  # an intrabar crash inside the horizon
    q = Panel(**{**p.__dict__, "low": low})
    ev = downside_event(q, horizon=5, k=2.0, vol_window=20)[:, 0]
    base = downside_event(p, horizon=5, k=2.0, vol_window=20)[:, 0]
    assert base[t] == 0.0 and ev[t] == 1.0
    # Low[t+3] lies on the held path of decisions t-2 .. t+2 only (t-3 exits at the open of t+3).
    changed = np.flatnonzero(np.nan_to_num(ev, nan=-1) != np.nan_to_num(base, nan=-1))
    assert set(changed) <= set(range(t - 2, t + 3)) and t in changed
    assert np.isnan(ev[:20]).all()  # no 20-bar vol yet
    assert np.isnan(ev[T - 6 :]).all()
    with pytest.raises(ValueError, match="horizon"):
        downside_event(q, horizon=0)
    with pytest.raises(ValueError, match="k must be positive"):
        downside_event(q, k=-1.0)


def test_perturbing_future_bars_changes_labels_at_t_but_no_feature_at_t():
    p = synthetic_panel(11, T=300, benchmark_open=True)
    t = 260
    rng = np.random.default_rng(1)
    scale = np.exp(rng.normal(0, 0.2, (p.shape[0] - t - 1, p.shape[1])))
    arrays = {k: getattr(p, k).copy() for k in ("open", "high", "low", "close")}
    for arr in arrays.values():
        arr[t + 1 :] *= scale
    q = Panel(**{**p.__dict__, **arrays})
    y_p, y_q = forward_excess_return(p, horizon=5), forward_excess_return(q, horizon=5)
    defined = np.isfinite(y_p[t]) & np.isfinite(y_q[t])
    assert defined.any() and (np.abs(y_p[t] - y_q[t])[defined] > 1e-6).all()
    f_p, f_q = compute_features(p, dtype=np.float64).values, compute_features(q, dtype=np.float64).values
    np.testing.assert_array_equal(f_p[:, : t + 1], f_q[:, : t + 1])


def test_no_feature_is_a_disguised_label():
    p = synthetic_panel(12, T=400)
    y = forward_excess_return(p, horizon=5)
    fs = compute_features(p, dtype=np.float64)
    for i, name in enumerate(fs.names):
        ok = np.isfinite(fs.values[i]) & np.isfinite(y)
        x = fs.values[i][ok]
        if ok.sum() < 100 or np.std(x) == 0:
            continue
        corr = np.corrcoef(x, y[ok])[0, 1]
        assert abs(corr) < 0.5, f"{name} correlates {corr:.2f} with the forward label"
    assert len(FEATURES) == len(fs.names)
