"""The transparent baseline: closed-form ridge on cross-sectionally z-scored features.

Every coefficient is readable ("one z of 20-day momentum is worth beta target units"), so when
LightGBM beats it we know by how much non-linearity buys, and when it does not we have a model
anyone can audit. Numpy only; float64 normal equations solved with a Cholesky-backed solve.
"""

from __future__ import annotations

from typing import Any

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
from .config import ModelError, RidgeConfig


class RidgeModel(FeatureModel):
    kind = "ridge"

    def __init__(self, config: RidgeConfig | None = None, *, feature_names: list[str]) -> None:
        super().__init__(config or RidgeConfig(), feature_names=feature_names)
        self.coef: np.ndarray | None = None
        self.intercept: float = 0.0

    def _design(self, X: np.ndarray) -> np.ndarray:
        # Prepared features are z-scores/ranks: NaN means "unknown", i.e. the cross-sectional mean.
        return np.nan_to_num(np.clip(X, -self.config.clip, self.config.clip), nan=0.0)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        y_down: np.ndarray | None = None,
        *,
        train_window: dict | None = None,
    ) -> RidgeModel:
        """Fit on prepared rows. `y_down` is not used by ridge but enters the data hash, so the
        artifact identifies the exact training arrays either way."""
        X, y, y_down = check_training(
            X, y, y_down, len(self.feature_names), min_rows=len(self.feature_names) + 2
        )
        D = self._design(X)
        n, f = D.shape
        mu = D.mean(axis=0)
        ybar = float(y.mean())
        Dc = D - mu
        gram = Dc.T @ Dc
        gram[np.diag_indices(f)] += self.config.alpha * n
        rhs = Dc.T @ (y - ybar)
        if self.config.alpha == 0 and empty_features(X, self.feature_names):
            raise ModelError(
                f"features {empty_features(X, self.feature_names)} are entirely NaN and alpha=0: "
                "the ridge system is singular"
            )
        try:
            coef = np.linalg.solve(gram, rhs)
        except np.linalg.LinAlgError as exc:
            raise ModelError(
                f"ridge normal equations are singular ({exc}); raise alpha or drop constant features"
            ) from exc
        self.coef = coef
        self.intercept = ybar - float(mu @ coef)
        self.data_hash = data_hash(X, y, y_down)
        self.train_window = dict(
            train_window or {}, n_rows=int(n), empty_features=empty_features(X, self.feature_names)
        )
        return self

    def _require_fitted(self) -> np.ndarray:
        if self.coef is None:
            raise ModelError("ridge model is not fitted")
        return self.coef

    def predict(self, X: np.ndarray) -> np.ndarray:
        coef = self._require_fitted()
        X = check_matrix(X, len(self.feature_names))
        out = self._design(X) @ coef + self.intercept
        out[~coverage_ok(X, self.config.min_feature_coverage)] = np.nan
        return out

    def predict_cross_section(self, X_raw: np.ndarray, member: np.ndarray) -> np.ndarray:
        """One live bar: raw features (N, F) and members (N,) -> scores (N,), NaN for non-members."""
        X = prepare_cross_section(
            X_raw, member, self.config.feature_transform, len(self.feature_names), clip=self.config.clip
        )
        return self.predict(X)

    def feature_importance(self) -> dict[str, float]:
        """|beta| per feature (features share the z-score scale, so magnitudes compare)."""
        coef = self._require_fitted()
        return {name: float(abs(c)) for name, c in zip(self.feature_names, coef, strict=True)}

    def to_payload(self) -> dict[str, Any]:
        coef = self._require_fitted()
        # float.hex round-trips every bit, so a reloaded model predicts bit-identically.
        return {"coef": [float(c).hex() for c in coef], "intercept": float(self.intercept).hex()}

    @classmethod
    def from_payload(
        cls, payload: dict[str, Any], *, config: RidgeConfig, feature_names: list[str]
    ) -> RidgeModel:
        model = cls(config, feature_names=feature_names)
        coef = np.array([float.fromhex(c) for c in payload["coef"]], dtype=np.float64)
        if coef.shape != (len(feature_names),):
            raise ModelError(f"ridge artifact has {coef.size} coefficients for {len(feature_names)} features")
        model.coef = coef
        model.intercept = float.fromhex(payload["intercept"])
        return model
