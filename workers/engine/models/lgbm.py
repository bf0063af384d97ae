"""The LightGBM route: a regressor for the forward excess return, a classifier for the downside
event, one combined score.

    score = pred_ret - downside_penalty * p_down * typical_loss

`pred_ret` is the regressor's prediction in target units (by default the gaussianised per-bar
rank of the 5-bar forward excess return). `p_down` is the classifier's probability of the
downside event. `typical_loss` converts that probability into the same units: it is the mean
(negated) target of the training rows where the downside event happened, floored at 0. So the
penalty reads "expected shortfall in target units, times how likely it is, times how much we
dislike it" and stays meaningful whatever `target_norm` is. With `use_downside=False` (or
penalty 0) the score is the regressor alone.
"""

from __future__ import annotations

import os
from typing import Any

# LightGBM's OpenMP threads spin while waiting by default. On the shared 2-core hosts this engine runs
# on, spinning threads fight other processes for the cores: a 2-thread fit measured 157 s spinning vs
# 18 s sleeping under load 9. setdefault keeps an explicit setting; it only takes effect if libgomp
# is not loaded yet, so worker processes should also export it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import lightgbm as lgb  # noqa: E402
import numpy as np

from .base import (
    FeatureModel,
    check_matrix,
    check_training,
    coverage_ok,
    data_hash,
    empty_features,
    prepare_cross_section,
)
from .config import LGBMConfig, ModelError


def _params(config: LGBMConfig, objective: str) -> dict[str, Any]:
    return {
        "objective": objective,
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_data_in_leaf": config.min_data_in_leaf,
        "feature_fraction": config.feature_fraction,
        "bagging_fraction": config.bagging_fraction,
        "bagging_freq": config.bagging_freq,
        "lambda_l2": config.lambda_l2,
        "max_bin": config.max_bin,
        "num_threads": config.num_threads,
        "seed": config.seed,
        "deterministic": True,
        "force_col_wise": True,
        "verbosity": -1,
    }


class LGBMModel(FeatureModel):
    kind = "lgbm"

    def __init__(self, config: LGBMConfig | None = None, *, feature_names: list[str]) -> None:
        super().__init__(config or LGBMConfig(), feature_names=feature_names)
        self.booster_ret: lgb.Booster | None = None
        self.booster_down: lgb.Booster | None = None
        self.typical_loss: float = 0.0

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        y_down: np.ndarray | None = None,
        *,
        train_window: dict | None = None,
    ) -> LGBMModel:
        """Fit on prepared rows (NaN features allowed: LightGBM routes them). `y` must be finite;
        `y_down` may be NaN where the event is undefined (those rows only miss the classifier)."""
        cfg = self.config
        X, y, y_down = check_training(
            X, y, y_down, len(self.feature_names), min_rows=2 * cfg.min_data_in_leaf
        )
        use_down = cfg.use_downside and cfg.downside_penalty > 0
        if use_down and y_down is None:
            raise ModelError("LGBMConfig.use_downside is set but no downside labels were given")
        ds_params = {"max_bin": cfg.max_bin, "verbosity": -1, "num_threads": cfg.num_threads}
        ds = lgb.Dataset(X, label=y, feature_name=self.feature_names, params=ds_params, free_raw_data=False)
        self.booster_ret = lgb.train(_params(cfg, "regression"), ds, num_boost_round=cfg.n_rounds)
        self.booster_down = None
        self.typical_loss = 0.0
        if use_down:
            assert y_down is not None
            rows = np.flatnonzero(np.isfinite(y_down))
            labels = y_down[rows]
            if rows.size < 2 * cfg.min_data_in_leaf or labels.min() == labels.max():
                raise ModelError(
                    f"downside classifier cannot be trained: {rows.size} labelled rows, "
                    f"{int(labels.sum()) if rows.size else 0} events"
                )
            if rows.size == y.size:
                ds_down = lgb.Dataset(
                    X, label=labels, reference=ds, feature_name=self.feature_names, params=ds_params
                )
            else:
                ds_down = lgb.Dataset(
                    X[rows], label=labels, reference=ds, feature_name=self.feature_names, params=ds_params
                )
            self.booster_down = lgb.train(_params(cfg, "binary"), ds_down, num_boost_round=cfg.n_rounds)
            self.typical_loss = max(0.0, -float(y[rows][labels == 1.0].mean()))
        self.data_hash = data_hash(X, y, y_down)
        self.train_window = dict(
            train_window or {}, n_rows=int(y.size), empty_features=empty_features(X, self.feature_names)
        )
        return self

    def _require_fitted(self) -> lgb.Booster:
        if self.booster_ret is None:
            raise ModelError("LightGBM model is not fitted")
        return self.booster_ret

    def predict_parts(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(pred_ret, p_down or None) for prepared rows, before the coverage rule."""
        booster = self._require_fitted()
        X = check_matrix(X, len(self.feature_names))
        # Rows are scored independently, so the thread count cannot change a result. Measured on
        # our 2-core machines with OMP_WAIT_POLICY=PASSIVE: 500 rows x 200 trees take ~3.2 ms on
        # one thread and ~1.6 ms on two, so even one live bar uses all configured threads.
        nt = self.config.num_threads
        pred = np.asarray(booster.predict(X, num_threads=nt), dtype=np.float64)
        p_down = None
        if self.booster_down is not None:
            p_down = np.asarray(self.booster_down.predict(X, num_threads=nt), dtype=np.float64)
        return pred, p_down

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = check_matrix(X, len(self.feature_names))
        if X.shape[0] == 0:
            return np.empty(0)
        pred, p_down = self.predict_parts(X)
        score = pred if p_down is None else pred - self.config.downside_penalty * p_down * self.typical_loss
        score[~coverage_ok(X, self.config.min_feature_coverage)] = np.nan
        return score

    def predict_cross_section(self, X_raw: np.ndarray, member: np.ndarray) -> np.ndarray:
        """One live bar: raw features (N, F) and members (N,) -> scores (N,), NaN for non-members."""
        X = prepare_cross_section(X_raw, member, self.config.feature_transform, len(self.feature_names))
        return self.predict(X)

    def feature_importance(self, model: str = "ret") -> dict[str, float]:
        """Total split gain per feature of the regressor ("ret") or the classifier ("down")."""
        booster = self._require_fitted() if model == "ret" else self.booster_down
        if booster is None:
            raise ModelError(f"no {model!r} booster in this model")
        gain = booster.feature_importance(importance_type="gain")
        return {name: float(g) for name, g in zip(self.feature_names, gain, strict=True)}

    def to_payload(self) -> dict[str, Any]:
        booster = self._require_fitted()
        return {
            "booster_ret": booster.model_to_string(),
            "booster_down": None if self.booster_down is None else self.booster_down.model_to_string(),
            "typical_loss": float(self.typical_loss).hex(),
        }

    @classmethod
    def from_payload(
        cls, payload: dict[str, Any], *, config: LGBMConfig, feature_names: list[str]
    ) -> LGBMModel:
        model = cls(config, feature_names=feature_names)
        model.booster_ret = lgb.Booster(model_str=payload["booster_ret"])
        if payload.get("booster_down") is not None:
            model.booster_down = lgb.Booster(model_str=payload["booster_down"])
        model.typical_loss = float.fromhex(payload["typical_loss"])
        if model.booster_ret.feature_name() != list(feature_names):
            raise ModelError("LightGBM artifact's feature names do not match the recorded feature list")
        return model
