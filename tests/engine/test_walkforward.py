"""Walk-forward: purge/embargo audited from the recorded fold spans AND from the rows a spy model
actually received; stitched out-of-sample panel; skipped folds; bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from workers.engine.models import LGBMConfig, LGBMModel, ModelError, RidgeModel, WalkForwardConfig
from workers.engine.models.report import signal_report
from workers.engine.models.walkforward import fold_bounds, walk_forward

H = 6  # a 5-bar label from open t+1 to open t+6 reads 6 future bars
NAMES = ["f0", "f1", "f2"]


def synthetic(T=260, N=50, seed=0):
    """Features with a planted cross-sectional signal; the label at t is unknown for the last H bars."""
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(3, T, N))
    target = 0.5 * feats[0] - 0.3 * feats[1] + rng.normal(size=(T, N))
    target[-H:] = np.nan
    member = np.ones((T, N), dtype=bool)
    member[:, -5:] = False  # never members
    down = np.where(np.isnan(target), np.nan, (target < -1.2).astype(float))
    return feats, target, down, member


class SpyModel:
    """Records the bar index of every training row: feature 0 carries t itself (raw transform)."""

    kind = "spy"
    feature_transform = "raw"
    seen: list[tuple[int, int, int]] = []  # (t_min, t_max, n_rows) per fit

    def __init__(self):
        self.feature_names = ["t", "x"]
        self.config = type("Cfg", (), {"min_feature_coverage": 0.5, "target_norm": "raw"})()
        self.data_hash = None
        self.train_window = {}

    def fit(self, X, y, y_down=None, *, train_window=None):
        SpyModel.seen.append((int(X[:, 0].min()), int(X[:, 0].max()), X.shape[0]))
        self.train_window = train_window
        return self

    def predict(self, X):
        return X[:, 1].copy()

    def feature_importance(self):
        return {"t": 0.0, "x": 1.0}


@pytest.mark.parametrize("embargo", [None, 0, 3])
@pytest.mark.parametrize("window", [None, 40])
def test_no_training_row_has_a_label_overlapping_the_test_block(embargo, window):
    T, N = 200, 20
    rng = np.random.default_rng(0)
    t_plane = np.broadcast_to(np.arange(T, dtype=float)[:, None], (T, N))
    feats = np.stack([t_plane, rng.normal(size=(T, N))])
    target = rng.normal(size=(T, N))
    cfg = WalkForwardConfig(
        test_start=60,
        label_horizon=H,
        retrain_every=17,
        embargo=embargo,
        train_window=window,
        min_train_rows=10,
    )
    SpyModel.seen = []
    res = walk_forward(
        features=feats,
        feature_names=["t", "x"],
        member=np.ones((T, N), dtype=bool),
        target=target,
        downside=None,
        model_factory=SpyModel,
        config=cfg,
    )
    gap = H + (H if embargo is None else embargo)
    assert len(res.trained_folds) == len(SpyModel.seen) == len(res.folds) == len(range(60, T, 17))
    for fold, (t_min, t_max, n_rows) in zip(res.trained_folds, SpyModel.seen, strict=True):
        # The label of row t reads bars t+1..t+H: it must end before the test block starts.
        assert t_max + H < fold.test_start
        assert t_max == fold.train_t_max == fold.test_start - 1 - gap  # the purge is tight, not wasteful
        assert t_min == fold.train_t_min == (0 if window is None else fold.test_start - gap - window)
        assert n_rows == fold.n_train_rows == (t_max - t_min + 1) * N
    # Stitched: nothing before the test start, every member predicted afterwards.
    assert np.isnan(res.signal[:60]).all() and np.isfinite(res.signal[60:]).all()
    np.testing.assert_array_equal(res.signal[60:], feats[1, 60:])


def test_fold_bounds_and_stride():
    cfg = WalkForwardConfig(test_start=30, label_horizon=5, retrain_every=10, embargo=2, train_window=8)
    assert fold_bounds(cfg, 52) == [(30, 40, 15, 22), (40, 50, 25, 32), (50, 52, 35, 42)]
    with pytest.raises(ModelError, match="leaves no test bars"):
        fold_bounds(WalkForwardConfig(test_start=60, label_horizon=5), 52)
    T, N = 120, 10
    feats = np.stack([np.broadcast_to(np.arange(T, dtype=float)[:, None], (T, N)), np.ones((T, N))])
    SpyModel.seen = []
    walk_forward(
        features=feats,
        feature_names=["t", "x"],
        member=np.ones((T, N), dtype=bool),
        target=np.zeros((T, N)),
        downside=None,
        model_factory=SpyModel,
        config=WalkForwardConfig(
            test_start=100, label_horizon=5, retrain_every=50, train_stride=5, min_train_rows=1
        ),
    )
    ((t_min, t_max, n_rows),) = SpyModel.seen
    assert t_max == 100 - 1 - 10 and n_rows == len(range(t_min, t_max + 1, 5)) * N


def test_lgbm_walk_forward_is_out_of_sample_and_informative():
    feats, target, down, member = synthetic()
    cfg = WalkForwardConfig(test_start=120, label_horizon=H, retrain_every=40, min_train_rows=1000)
    lcfg = LGBMConfig(n_rounds=40, min_data_in_leaf=50, num_leaves=15)
    res = walk_forward(
        features=feats,
        feature_names=NAMES,
        member=member,
        target=target,
        downside=down,
        model_factory=lambda: LGBMModel(lcfg, feature_names=NAMES),
        config=cfg,
    )
    assert np.isnan(res.signal[:120]).all()
    assert np.isnan(res.signal[:, -5:]).all()  # non-members never get a score
    assert np.isfinite(res.signal[120:, :-5]).all()
    rep = signal_report(signal=res.signal, label=target, member=member, horizon=5, min_names=20)
    assert rep.summary["rank_ic"] > 0.3
    assert rep.summary["quantile_returns"][-1] > rep.summary["quantile_returns"][0]
    assert set(res.importance) == set(NAMES) and res.importance["f2"] < res.importance["f0"]
    assert res.summary()["n_trained"] == 4
    assert res.last_model.train_window["test_start"] == 240
    # Determinism of the whole procedure.
    again = walk_forward(
        features=feats,
        feature_names=NAMES,
        member=member,
        target=target,
        downside=down,
        model_factory=lambda: LGBMModel(lcfg, feature_names=NAMES),
        config=cfg,
    )
    assert np.array_equal(res.signal, again.signal, equal_nan=True)


def test_too_few_rows_and_empty_universe_folds_are_skipped_with_a_reason():
    feats, target, down, member = synthetic(T=200, N=30)
    member = member.copy()
    member[150:170] = False  # an empty-universe period covering a whole test block
    cfg = WalkForwardConfig(test_start=30, label_horizon=H, retrain_every=20, min_train_rows=1500)
    res = walk_forward(
        features=feats,
        feature_names=NAMES,
        member=member,
        target=target,
        downside=down,
        model_factory=lambda: RidgeModel(feature_names=NAMES),
        config=cfg,
    )
    by_start = {f.test_start: f for f in res.folds}
    assert by_start[30].status == "skipped" and "too few training rows" in by_start[30].reason
    assert by_start[150].status == "skipped" and "empty universe" in by_start[150].reason
    assert by_start[170].status == "trained"
    assert np.isnan(res.signal[30:50]).all() and np.isnan(res.signal[150:170]).all()
    assert np.isfinite(res.signal[170:, :25]).all()
    skipped = res.summary()["skipped"]
    assert {s["fold"] for s in skipped} >= {by_start[30].fold, by_start[150].fold}


def test_every_fold_skipped_is_an_error():
    feats, target, down, member = synthetic(T=100, N=10)
    with pytest.raises(ModelError, match="trained no fold.*too few training rows"):
        walk_forward(
            features=feats,
            feature_names=NAMES,
            member=member,
            target=target,
            downside=down,
            model_factory=lambda: RidgeModel(feature_names=NAMES),
            config=WalkForwardConfig(test_start=50, label_horizon=H, min_train_rows=10**6),
        )


def test_short_history_name_and_nan_labels_are_handled():
    """A name with 3 bars gets no score (too few finite features) and NaN labels never train."""
    feats, target, down, member = synthetic(T=200, N=30)
    feats = feats.copy()
    feats[:, :, 0] = np.nan
    feats[:, 180:183, 0] = 1.0  # 3 bars of data, only in the test period
    feats[1, 180:183, 0] = np.nan  # and one feature missing there: 2 of 3 finite -> still scored
    target = target.copy()
    target[::7] = np.nan
    res = walk_forward(
        features=feats,
        feature_names=NAMES,
        member=member,
        target=target,
        downside=down,
        model_factory=lambda: RidgeModel(feature_names=NAMES),
        config=WalkForwardConfig(test_start=100, label_horizon=H, retrain_every=50, min_train_rows=500),
    )
    assert np.isnan(res.signal[100:180, 0]).all() and np.isnan(res.signal[183:, 0]).all()
    assert np.isfinite(res.signal[180:183, 0]).all()
    fold = res.folds[0]
    per_bar = member[: fold.train_t_max + 1, 1:].sum(axis=1)
    labelled = np.isfinite(target[: fold.train_t_max + 1, 0])
    assert fold.n_train_rows == int(per_bar[labelled].sum())


def test_bad_walk_forward_inputs():
    feats, target, down, member = synthetic(T=80, N=10)
    common = dict(
        feature_names=NAMES,
        downside=down,
        model_factory=lambda: RidgeModel(feature_names=NAMES),
        config=WalkForwardConfig(test_start=50, label_horizon=H, min_train_rows=10),
    )
    with pytest.raises(ModelError, match=r"features must be \(F, T, N\)"):
        walk_forward(features=feats[0], member=member, target=target, **common)
    with pytest.raises(ModelError, match="planes but"):
        walk_forward(features=feats[:2], member=member, target=target, **common)
    with pytest.raises(ModelError, match="member must be"):
        walk_forward(features=feats, member=member.astype(int), target=target, **common)
    with pytest.raises(ModelError, match="target must be"):
        walk_forward(features=feats, member=member, target=target[:-1], **common)
    bad = feats.copy()
    bad[0, 3, 3] = np.inf
    with pytest.raises(ModelError, match="infinite"):
        walk_forward(features=bad, member=member, target=target, **common)
    with pytest.raises(ModelError, match="feature list differs"):
        walk_forward(
            features=feats[:2], member=member, target=target, **{**common, "feature_names": NAMES[:2]}
        )
