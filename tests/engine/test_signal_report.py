"""Signal quality report: per-bar IC / rank IC against scipy, quantiles, spread, hit rate, edges."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from workers.engine.models import ModelError
from workers.engine.models.report import signal_report


def noisy(T=120, N=80, strength=0.3, seed=0):
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=(T, N))
    label = strength * signal + rng.normal(size=(T, N))
    label[rng.random((T, N)) < 0.05] = np.nan
    signal[rng.random((T, N)) < 0.05] = np.nan
    signal[:, 3] = np.round(signal[:, 3])  # some ties
    member = rng.random((T, N)) > 0.1
    return signal, label, member


def test_ic_and_rank_ic_match_scipy_per_bar():
    signal, label, member = noisy()
    rep = signal_report(signal=signal, label=label, member=member, horizon=5)
    for t in (0, 17, 119):
        ok = member[t] & np.isfinite(signal[t]) & np.isfinite(label[t])
        assert rep.n_names[t] == ok.sum()
        assert rep.ic[t] == pytest.approx(pearsonr(signal[t, ok], label[t, ok])[0], abs=1e-12)
        assert rep.rank_ic[t] == pytest.approx(spearmanr(signal[t, ok], label[t, ok])[0], abs=1e-12)
    s = rep.summary
    assert s["rank_ic"] == pytest.approx(np.nanmean(rep.rank_ic))
    assert s["rank_icir"] == pytest.approx(np.nanmean(rep.rank_ic) / np.nanstd(rep.rank_ic, ddof=1))
    assert s["rank_icir_annualised"] == pytest.approx(s["rank_icir"] * np.sqrt(252 / 5))
    assert 0.2 < s["rank_ic"] < 0.4 and s["n_periods"] == 120


def test_perfect_and_useless_signals():
    rng = np.random.default_rng(1)
    label = rng.normal(size=(60, 100))
    member = np.ones_like(label, dtype=bool)
    perfect = signal_report(signal=label.copy(), label=label, member=member, horizon=1)
    assert perfect.summary["rank_ic"] == pytest.approx(1.0) and perfect.summary["hit_rate"] == 1.0
    q = perfect.summary["quantile_returns"]
    assert all(a < b for a, b in zip(q, q[1:], strict=False))
    assert perfect.summary["top_bottom_spread"] == pytest.approx(q[-1] - q[0])
    useless = signal_report(signal=rng.normal(size=label.shape), label=label, member=member, horizon=1)
    assert abs(useless.summary["rank_ic"]) < 0.03 and abs(useless.summary["hit_rate"] - 0.5) < 0.03
    inverted = signal_report(signal=-label, label=label, member=member, horizon=1)
    assert inverted.summary["rank_ic"] == pytest.approx(-1.0) and inverted.summary["top_bottom_spread"] < 0


def test_quantile_buckets_are_equal_sized_per_bar():
    label = np.tile(np.arange(100, dtype=float), (3, 1))
    rep = signal_report(signal=label, label=label, member=np.ones_like(label, dtype=bool), horizon=1)
    np.testing.assert_allclose(rep.quantile_returns, np.arange(10) * 10 + 4.5)


def test_thin_bars_are_left_out_and_nothing_valid_is_an_error():
    signal, label, member = noisy(T=10, N=50)
    member = member.copy()
    member[4] = False
    member[5, 10:] = False  # at most 10 names
    rep = signal_report(signal=signal, label=label, member=member, horizon=5, min_names=20, index=None)
    assert np.isnan(rep.ic[4]) and np.isnan(rep.rank_ic[5]) and np.isnan(rep.spread[4])
    assert rep.summary["n_periods"] == 8
    with pytest.raises(ModelError, match="no bar has at least 20"):
        signal_report(signal=signal, label=label, member=np.zeros_like(member), horizon=5)
    with pytest.raises(ModelError, match="must be equal"):
        signal_report(signal=signal[:, :-1], label=label, member=member, horizon=5)
    with pytest.raises(ModelError, match="min_names"):
        signal_report(signal=signal, label=label, member=member, horizon=5, min_names=5)
    bad = signal.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ModelError, match="infinite"):
        signal_report(signal=bad, label=label, member=member, horizon=5)


def test_by_year_and_importance_in_summary():
    signal, label, member = noisy(T=600, N=40)
    index = np.datetime64("2019-01-01T21:00") + np.arange(600) * np.timedelta64(1, "D")
    rep = signal_report(
        signal=signal, label=label, member=member, horizon=5, index=index, importance={"mom": 0.7, "rev": 0.3}
    )
    assert sorted(rep.summary["rank_ic_by_year"]) == [2019, 2020]
    assert rep.summary["feature_importance"] == {"mom": 0.7, "rev": 0.3}
