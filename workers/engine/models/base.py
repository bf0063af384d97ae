"""What every signal model shares: input checks, the feature-coverage rule, the data hash.

Models work on *prepared* rows (features already transformed cross-sectionally, see
transforms.py); `predict_cross_section` prepares one live bar itself. A row whose share of
finite prepared features is below `min_feature_coverage` gets a NaN prediction instead of a
guess made from mostly missing inputs (a name with 3 bars of history, a fresh listing).
"""

from __future__ import annotations

import hashlib
import platform
from typing import Any, Protocol

import numpy as np

from .config import ModelError
from .transforms import transform_features


def stack_rows(values: np.ndarray, t_idx: np.ndarray, n_idx: np.ndarray) -> np.ndarray:
    """(F, T, N) panel + row coordinates -> (rows, F) C-contiguous float64 matrix."""
    return np.ascontiguousarray(values[:, t_idx, n_idx].T, dtype=np.float64)


def check_matrix(X: np.ndarray, n_features: int, what: str = "X") -> np.ndarray:
    if not isinstance(X, np.ndarray) or X.ndim != 2:
        raise ModelError(f"{what} must be a 2-D array (rows x features), got {getattr(X, 'shape', type(X))}")
    if X.shape[1] != n_features:
        raise ModelError(f"{what} has {X.shape[1]} features, the model expects {n_features}")
    X = np.ascontiguousarray(X, dtype=np.float64)
    if np.isinf(X).any():
        raise ModelError(f"{what} contains infinite values")
    return X


def check_training(
    X: np.ndarray, y: np.ndarray, y_down: np.ndarray | None, n_features: int, *, min_rows: int = 2
):
    X = check_matrix(X, n_features)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if y.shape != (X.shape[0],):
        raise ModelError(f"target has shape {y.shape}, expected ({X.shape[0]},)")
    if X.shape[0] < min_rows:
        raise ModelError(f"too few training rows: {X.shape[0]} < {min_rows}")
    if not np.isfinite(y).all():
        raise ModelError(
            f"target has {int((~np.isfinite(y)).sum())} non-finite values; drop those rows first"
        )
    if y_down is not None:
        y_down = np.ascontiguousarray(y_down, dtype=np.float64)
        if y_down.shape != y.shape:
            raise ModelError(f"downside labels have shape {y_down.shape}, expected {y.shape}")
        finite = np.isfinite(y_down)
        if not np.isin(y_down[finite], (0.0, 1.0)).all():
            raise ModelError("downside labels must be 0, 1 or NaN")
    return X, y, y_down


def empty_features(X: np.ndarray, names: list[str]) -> list[str]:
    """Features with no finite value in the training rows. Not an error: a feature can be
    undefined for a whole window (e.g. a cross-sectional z-score of a value that is equal for every
    name). Ridge gives such a column coefficient 0 (it is all zeros after imputation and the
    penalty is positive); LightGBM never splits on it. The names are recorded in `train_window`."""
    return [n for n, ok in zip(names, np.isfinite(X).any(axis=0), strict=True) if not ok]


def coverage_ok(X: np.ndarray, min_coverage: float) -> np.ndarray:
    """(rows,) bool: share of finite features >= min_coverage (and at least one finite)."""
    finite = np.isfinite(X)
    share = finite.mean(axis=1) if X.shape[1] else np.zeros(X.shape[0])
    return (share >= min_coverage) & finite.any(axis=1)


def data_hash(*arrays: np.ndarray | None) -> str:
    """sha256 over the shapes, dtypes and bytes of the training arrays (None hashes as a marker)."""
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none;")
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    import lightgbm
    import scipy

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "lightgbm": lightgbm.__version__,
    }


def prepare_cross_section(
    X_raw: np.ndarray, member: np.ndarray, feature_transform: str, n_features: int, *, clip: float = 5.0
) -> np.ndarray:
    """One bar's raw features (N, F) + member mask (N,) -> prepared (N, F), NaN for non-members."""
    X_raw = check_matrix(X_raw, n_features, "cross-section features")
    member = np.asarray(member, dtype=bool)
    if member.shape != (X_raw.shape[0],):
        raise ModelError(f"member mask has shape {member.shape}, expected ({X_raw.shape[0]},)")
    return np.ascontiguousarray(transform_features(X_raw.T, member, feature_transform, clip=clip).T)


class FeatureModel:
    """What the learned models share: a checked feature list, their config and the provenance the
    artifact stores (training data hash, training window)."""

    kind: str

    def __init__(self, config: Any, *, feature_names: list[str]) -> None:
        if not feature_names:
            raise ModelError("a model needs at least one feature")
        if len(set(feature_names)) != len(feature_names):
            raise ModelError("feature names must be unique")
        self.config = config
        self.feature_names = list(feature_names)
        self.data_hash: str | None = None
        self.train_window: dict[str, Any] = {}

    @property
    def feature_transform(self) -> str:
        return self.config.feature_transform


class SignalModel(Protocol):
    """A fitted model turns prepared feature rows into a score (higher = more attractive)."""

    kind: str
    feature_names: list[str]
    data_hash: str | None
    train_window: dict[str, Any]

    @property
    def feature_transform(self) -> str: ...

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        y_down: np.ndarray | None = None,
        *,
        train_window: dict | None = None,
    ) -> SignalModel: ...

    def predict(self, X: np.ndarray) -> np.ndarray: ...

    def predict_cross_section(self, X_raw: np.ndarray, member: np.ndarray) -> np.ndarray: ...

    def feature_importance(self) -> dict[str, float]: ...

    def to_payload(self) -> dict[str, Any]: ...
