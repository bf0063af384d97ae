"""The factor risk model: Ledoit-Wolf intensity, PCA factors, NaN handling, past-only estimation."""

from __future__ import annotations

import numpy as np
import pytest

from bench._data import DAILY_PARQUET, load_daily_sp500
from workers.engine.optimizer.risk_model import estimate_factor_model, ledoit_wolf_intensity


def factor_returns(seed: int = 0, L: int = 300, n: int = 80) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.01, (L, 3)) @ rng.normal(1, 0.5, (3, n)) + rng.normal(0, 0.02, (L, n))


def fit(window: np.ndarray, k: int = 5, min_obs: int = 60):
    return estimate_factor_model(
        window, n_factors=k, min_obs=min_obs, default_idio_vol=0.8, periods_per_year=252
    )


def test_ledoit_wolf_intensity_matches_the_textbook_formula():
    x = factor_returns()
    x = x - x.mean(axis=0)
    L = x.shape[0]
    s = x.T @ x / L
    pi = (x * x).T @ (x * x) / L - s * s
    off = ~np.eye(s.shape[0], dtype=bool)
    expected = pi[off].sum() / (L * np.square(s[off]).sum())
    assert ledoit_wolf_intensity(x) == pytest.approx(expected, rel=1e-9)


def test_factors_are_the_top_eigenvectors_of_the_shrunk_covariance():
    r = factor_returns()
    model = fit(r, k=5)
    x = r - r.mean(axis=0)
    L = x.shape[0]
    s = x.T @ x / L
    shrunk = (1 - model.shrinkage) * s
    shrunk[np.diag_indices_from(shrunk)] = np.diag(s)
    vals, vecs = np.linalg.eigh(shrunk)
    top = vecs[:, -5:] * np.sqrt(vals[-5:])
    np.testing.assert_allclose(model.exposures @ model.exposures.T, top @ top.T, atol=1e-10)
    # total variance per name is preserved (idio = what the factors leave), and Sigma is PSD
    np.testing.assert_allclose(np.diag(model.covariance()), np.diag(s), rtol=1e-9)
    assert np.linalg.eigvalsh(model.covariance()).min() > 0
    w = np.full(r.shape[1], 1.0 / r.shape[1])
    assert model.variance(w) == pytest.approx(w @ model.covariance() @ w, rel=1e-10)


def test_missing_history_gets_the_default_high_idio_vol_and_no_factor_exposure():
    r = factor_returns()
    r[:260, 7] = np.nan  # 40 observations < min_obs 60
    r[::3, 8] = np.nan  # 200 observations: estimated, with gaps
    model = fit(r)
    assert not model.estimated[7] and model.estimated[8]
    assert (model.exposures[7] == 0).all()
    assert np.sqrt(model.idio_var[7] * 252) == pytest.approx(0.8)
    assert np.isfinite(model.idio_var).all() and np.isfinite(model.exposures).all()


def test_estimation_uses_the_window_only():
    """The model at t is a function of the returns window ending at t: rewriting every later row
    of the history leaves it bit-identical, while changing a row inside the window does not."""
    history = factor_returns(L=400)
    t, L = 299, 250
    before = fit(history[t - L + 1 : t + 1])
    changed = history.copy()
    changed[t + 1 :] = np.random.default_rng(9).normal(0, 0.5, changed[t + 1 :].shape)
    after = fit(changed[t - L + 1 : t + 1])
    assert np.array_equal(before.exposures, after.exposures) and np.array_equal(
        before.idio_var, after.idio_var
    )
    inside = history.copy()
    inside[t] *= 3.0
    moved = fit(inside[t - L + 1 : t + 1])
    assert not np.array_equal(before.idio_var, moved.idio_var)


def test_rejects_infinite_returns():
    r = factor_returns()
    r[3, 3] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        fit(r)


@pytest.mark.skipif(not DAILY_PARQUET.exists(), reason=f"real daily data not found at {DAILY_PARQUET}")
def test_real_sp500_window_gives_plausible_vols():
    panel = load_daily_sp500(start="2018-06-01", end="2019-07-01")
    close = panel.close
    with np.errstate(invalid="ignore", divide="ignore"):
        r = close[1:] / close[:-1] - 1
    r[np.abs(r) > 0.4] = np.nan  # raw closes: split days
    model = fit(r[-250:], k=15)
    est = model.estimated
    vols = np.sqrt(np.diag(model.covariance())[est] * 252)
    assert est.sum() > 400
    assert 0.15 < np.median(vols) < 0.45  # S&P 500 single-name vols, 2018-2019
    equal = np.where(est, 1.0 / est.sum(), 0.0)
    assert 0.08 < model.vol(equal, 252) < 0.25  # an equal-weight S&P book
