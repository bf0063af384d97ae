"""Ridge baseline and LightGBM route: fitting, determinism, the combined score, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from workers.engine.models import (
    LGBMConfig,
    LGBMModel,
    ModelError,
    RidgeConfig,
    RidgeModel,
    WalkForwardConfig,
    transform_features,
)
from workers.engine.models.transforms import cs_zscore, normalise_target

NAMES = ["mom", "rev", "vol", "noise"]
SMALL = LGBMConfig(n_rounds=30, min_data_in_leaf=20, num_leaves=15)


def planted(n: int = 6000, seed: int = 0):
    """Rows with a known signal: linear in f0, non-linear in f2, 5% NaN features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(NAMES)))
    truth = 0.4 * X[:, 0] - 0.3 * X[:, 1] + 0.5 * (np.abs(X[:, 2]) > 1.0)
    y = truth + rng.normal(size=n)
    X[rng.random(X.shape) < 0.05] = np.nan
    down = (y < -1.5).astype(float)
    return X, y, down, truth


def test_ridge_recovers_linear_coefficients():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20000, 4))
    y = X @ np.array([0.5, -0.25, 0.0, 0.1]) + 0.2 + rng.normal(scale=0.5, size=20000)
    m = RidgeModel(RidgeConfig(alpha=0.0), feature_names=NAMES).fit(X, y)
    np.testing.assert_allclose(m.coef, [0.5, -0.25, 0.0, 0.1], atol=0.02)
    assert m.intercept == pytest.approx(0.2, abs=0.02)
    # Shrinkage pulls coefficients towards zero.
    shrunk = RidgeModel(RidgeConfig(alpha=1.0), feature_names=NAMES).fit(X, y)
    assert np.abs(shrunk.coef).sum() < np.abs(m.coef).sum() * 0.6


def test_ridge_fills_missing_features_with_zero_and_refuses_low_coverage_rows():
    X, y, _, _ = planted()
    m = RidgeModel(feature_names=NAMES).fit(X, y)
    row = np.array([[1.0, np.nan, np.nan, 0.5], [np.nan, np.nan, np.nan, 0.5], [1.0, 0.0, 0.0, 0.5]])
    p = m.predict(row)
    assert p[0] == p[2]  # NaN -> 0 (the cross-sectional mean of a z-score)
    assert np.isnan(p[1])  # 1 of 4 features finite < min_feature_coverage 0.5


def test_lgbm_is_deterministic_and_seed_sensitive():
    X, y, down, _ = planted()
    a = LGBMModel(SMALL, feature_names=NAMES).fit(X, y, down)
    b = LGBMModel(SMALL, feature_names=NAMES).fit(X, y, down)
    assert a.data_hash == b.data_hash
    assert np.array_equal(a.predict(X), b.predict(X), equal_nan=True)
    assert a.booster_ret.model_to_string() == b.booster_ret.model_to_string()
    c = LGBMModel(LGBMConfig(**{**SMALL.to_dict(), "seed": 7}), feature_names=NAMES).fit(X, y, down)
    assert not np.array_equal(a.predict(X), c.predict(X), equal_nan=True)


def test_lgbm_learns_the_planted_signal_out_of_sample():
    X, y, down, _ = planted(seed=0)
    Xt, _, _, truth = planted(seed=1)
    m = LGBMModel(SMALL, feature_names=NAMES).fit(X, y, down)
    pred, _ = m.predict_parts(Xt)
    assert np.corrcoef(pred, truth)[0, 1] > 0.6
    gain = m.feature_importance()
    assert gain["noise"] < min(gain["mom"], gain["rev"], gain["vol"])


def test_lgbm_score_combines_return_and_downside_as_documented():
    X, y, down, _ = planted()
    cfg = LGBMConfig(**{**SMALL.to_dict(), "downside_penalty": 0.7})
    m = LGBMModel(cfg, feature_names=NAMES).fit(X, y, down)
    assert m.typical_loss == pytest.approx(-y[down == 1].mean())
    pred, p_down = m.predict_parts(X)
    assert p_down is not None and ((p_down > 0) & (p_down < 1)).all()
    np.testing.assert_array_equal(m.predict(X[:200]), (pred - 0.7 * p_down * m.typical_loss)[:200])
    plain = LGBMModel(LGBMConfig(**{**SMALL.to_dict(), "use_downside": False}), feature_names=NAMES).fit(X, y)
    assert plain.booster_down is None
    np.testing.assert_array_equal(plain.predict(X[:50]), plain.predict_parts(X[:50])[0])


def test_downside_labels_may_be_nan_on_some_rows():
    X, y, down, _ = planted()
    down[::3] = np.nan
    m = LGBMModel(SMALL, feature_names=NAMES).fit(X, y, down)
    assert m.booster_down is not None and np.isfinite(m.predict(X[:10])).any()


@pytest.mark.parametrize("kind", ["ridge", "lgbm"])
def test_bad_training_inputs_raise_model_error(kind):
    X, y, down, _ = planted(n=2000)
    make = (
        (lambda: RidgeModel(feature_names=NAMES))
        if kind == "ridge"
        else (lambda: LGBMModel(SMALL, feature_names=NAMES))
    )
    y_nan = y.copy()
    y_nan[5] = np.nan
    with pytest.raises(ModelError, match="non-finite"):
        make().fit(X, y_nan, down)
    with pytest.raises(ModelError, match="features"):
        make().fit(X[:, :3], y, down)
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ModelError, match="infinite"):
        make().fit(X_inf, y, down)
    with pytest.raises(ModelError, match="too few training rows"):
        make().fit(X[:3], y[:3], down[:3])
    with pytest.raises(ModelError, match="not fitted"):
        make().predict(X)
    with pytest.raises(ModelError, match="0, 1 or NaN"):
        make().fit(X, y, down * 2)


@pytest.mark.parametrize("kind", ["ridge", "lgbm"])
def test_a_feature_missing_for_the_whole_window_is_recorded_and_unused(kind):
    X, y, down, _ = planted(n=3000)
    X[:, 3] = np.nan
    m = RidgeModel(feature_names=NAMES) if kind == "ridge" else LGBMModel(SMALL, feature_names=NAMES)
    m.fit(X, y, down)
    assert m.train_window["empty_features"] == ["noise"]
    assert m.feature_importance()["noise"] == 0.0
    if kind == "ridge":
        with pytest.raises(ModelError, match="entirely NaN and alpha=0"):
            RidgeModel(RidgeConfig(alpha=0.0), feature_names=NAMES).fit(X, y)


def test_lgbm_refuses_a_downside_classifier_without_both_classes():
    X, y, _, _ = planted(n=2000)
    with pytest.raises(ModelError, match="downside classifier cannot be trained"):
        LGBMModel(SMALL, feature_names=NAMES).fit(X, y, np.zeros_like(y))
    with pytest.raises(ModelError, match="no downside labels"):
        LGBMModel(SMALL, feature_names=NAMES).fit(X, y, None)


@pytest.mark.parametrize("transform", ["cs_zscore", "cs_rank"])
def test_predict_cross_section_matches_panel_preparation(transform):
    rng = np.random.default_rng(3)
    F, T, N = 4, 50, 40
    raw = rng.normal(size=(F, T, N)) * np.arange(1, 5)[:, None, None] + 3.0
    member = rng.random((T, N)) > 0.1
    prepared = transform_features(raw, member, transform)
    t = 17
    rows = np.flatnonzero(member[t])
    X = prepared[:, t, rows].T
    y = rng.normal(size=rows.size)
    ridge = RidgeModel(RidgeConfig(feature_transform=transform), feature_names=NAMES).fit(X, y)
    live = ridge.predict_cross_section(raw[:, t, :].T, member[t])
    assert np.isnan(live[~member[t]]).all()
    np.testing.assert_array_equal(live[rows], ridge.predict(X))


def test_cross_sectional_transforms():
    x = np.array([[1.0, 2.0, 3.0, np.nan, 100.0], [5.0, 5.0, 5.0, 5.0, 5.0]])
    valid = np.array([[True, True, True, True, False], [True] * 5])
    z = cs_zscore(x, valid)
    np.testing.assert_allclose(z[0, :3], [-1.0, 0.0, 1.0])
    assert np.isnan(z[0, 3:]).all()  # NaN stays NaN, the non-member is masked
    assert np.isnan(z[1]).all()  # no dispersion -> no information
    r = normalise_target(x, valid, "rank")
    assert r[0, 0] < 0 < r[0, 2] and r[0, 1] == 0.0
    with pytest.raises(ModelError, match="unknown target normalisation"):
        normalise_target(x, valid, "minmax")


def test_configs_reject_bad_values_and_round_trip():
    assert LGBMConfig.from_dict(LGBMConfig().to_dict()) == LGBMConfig()
    with pytest.raises(ModelError, match="unknown config keys"):
        LGBMConfig.from_dict({"n_round": 10})
    with pytest.raises(ModelError, match="feature_transform"):
        LGBMConfig(feature_transform="minmax")
    with pytest.raises(ModelError, match="raw"):
        RidgeConfig(feature_transform="raw")
    with pytest.raises(ModelError, match="label_horizon"):
        WalkForwardConfig(test_start=10, label_horizon=0)
    assert WalkForwardConfig(test_start=10, label_horizon=6).gap == 12
    assert WalkForwardConfig(test_start=10, label_horizon=6, embargo=0).gap == 6
    with pytest.raises(ModelError, match="at least one feature"):
        RidgeModel(feature_names=[])


def test_float32_feature_panels_are_normalised_in_float64():
    """The feature library stores float32; the live path computes float64. Both must agree."""
    rng = np.random.default_rng(5)
    v32 = (rng.normal(size=(2, 20, 30)) * 1e3 + 1e4).astype(np.float32)
    member = np.ones((20, 30), dtype=bool)
    a = transform_features(v32, member, "cs_zscore")
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, transform_features(v32.astype(np.float64), member, "cs_zscore"))
