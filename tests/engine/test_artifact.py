"""Model artifacts: one JSON file; reloading predicts bit for bit what the saved model predicted."""

from __future__ import annotations

import json

import lightgbm
import numpy as np
import pytest

from workers.engine.models import LGBMConfig, LGBMModel, ModelError, RidgeModel, load_model, save_model

NAMES = ["a", "b", "c", "d", "e"]


def data(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(NAMES)))
    y = 0.3 * X[:, 0] + np.sin(2 * X[:, 1]) * 0.3 + rng.normal(size=n)
    X[rng.random(X.shape) < 0.1] = np.nan
    return X, y, (y < -1.4).astype(float)


def fitted(kind):
    X, y, d = data()
    window = {"t_start": 0, "t_end": 99, "start": "2010-01-04T21:00:00", "end": "2010-05-27T20:00:00"}
    if kind == "lgbm":
        return LGBMModel(LGBMConfig(n_rounds=40, min_data_in_leaf=30), feature_names=NAMES).fit(
            X, y, d, train_window=window
        )
    return RidgeModel(feature_names=NAMES).fit(X, y, d, train_window=window)


@pytest.mark.parametrize("kind", ["lgbm", "ridge"])
def test_reload_gives_bitwise_identical_predictions(tmp_path, kind):
    model = fitted(kind)
    path = save_model(model, tmp_path / "m" / f"{kind}.json")
    again = load_model(path)
    Xt, _, _ = data(n=3000, seed=9)
    before, after = model.predict(Xt), again.predict(Xt)
    assert np.array_equal(before.view(np.uint64), after.view(np.uint64))  # bits, NaN included
    assert np.isfinite(before).sum() > 2500
    # Saving the reloaded model reproduces the same artifact.
    assert (
        json.loads(save_model(again, tmp_path / "again.json").read_text())["model"]
        == json.loads(path.read_text())["model"]
    )


@pytest.mark.parametrize("kind", ["lgbm", "ridge"])
def test_artifact_records_provenance(tmp_path, kind):
    model = fitted(kind)
    X, y, d = data()
    other = RidgeModel(feature_names=NAMES).fit(X[:-1], y[:-1], d[:-1])
    assert model.data_hash and len(model.data_hash) == 64 and model.data_hash != other.data_hash
    doc = json.loads(save_model(model, tmp_path / "m.json").read_text())
    assert doc["kind"] == kind and doc["feature_names"] == NAMES
    assert doc["data_hash"] == model.data_hash
    assert doc["train_window"]["t_end"] == 99 and doc["train_window"]["n_rows"] == 4000
    assert doc["versions"]["lightgbm"] == lightgbm.__version__ and doc["versions"]["numpy"] == np.__version__
    assert doc["config"] == model.config.to_dict()
    loaded = load_model(tmp_path / "m.json")
    assert loaded.data_hash == model.data_hash and loaded.config == model.config


def test_lgbm_artifact_keeps_both_boosters_and_the_loss_scale(tmp_path):
    model = fitted("lgbm")
    again = load_model(save_model(model, tmp_path / "m.json"))
    assert again.booster_down is not None
    assert again.typical_loss == model.typical_loss
    Xt, _, _ = data(n=500, seed=3)
    for a, b in zip(model.predict_parts(Xt), again.predict_parts(Xt), strict=True):
        assert np.array_equal(a, b)


def test_bad_artifacts_are_refused(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "missing.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(tmp_path / "junk.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ModelError, match="not a signal-model artifact"):
        load_model(tmp_path / "other.json")
    doc = json.loads(save_model(fitted("ridge"), tmp_path / "r.json").read_text())
    doc["feature_names"] = NAMES[:-1]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="coefficients"):
        load_model(tmp_path / "bad.json")
    doc = json.loads(save_model(fitted("lgbm"), tmp_path / "l.json").read_text())
    doc["feature_names"] = list(reversed(NAMES))
    (tmp_path / "bad2.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="feature names do not match"):
        load_model(tmp_path / "bad2.json")
    with pytest.raises(ModelError, match="not fitted"):
        save_model(RidgeModel(feature_names=NAMES), tmp_path / "unfitted.json")
    assert not (tmp_path / "unfitted.json").exists()
