"""Cross-sectional transforms: each bar is normalised using that bar's members only.

Because a transform at bar t reads only row t, applying it to the whole panel at once is
point-in-time safe; the same function applied to one live cross-section gives the same numbers
(the models call it per row in `predict_cross_section`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

from .config import FEATURE_TRANSFORMS, TARGET_NORMS, ModelError

MIN_CROSS_SECTION = 2  # fewer valid names than this at a bar -> NaN (a z-score or rank of one name is noise)


def _masked(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    # float64 always (float32 feature panels would otherwise be normalised in float32), and
    # C-contiguous so per-row sums take the same pairwise path whether we get a panel or one bar.
    values = np.ascontiguousarray(values, dtype=np.float64)
    return np.where(valid & np.isfinite(values), values, np.nan)


def cs_zscore(values: np.ndarray, valid: np.ndarray, *, clip: float | None = 5.0) -> np.ndarray:
    """Z-score along the last axis (names) among `valid` finite entries; NaN elsewhere.

    A bar whose valid values are all equal (std 0) or has < 2 valid names gets NaN: there is no
    cross-sectional information in it."""
    x = _masked(values, valid)
    ok = np.isfinite(x)
    n = ok.sum(axis=-1, keepdims=True)
    filled = np.where(ok, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=-1, keepdims=True) / n
        dev = np.where(ok, x - mean, 0.0)
        std = np.sqrt((dev * dev).sum(axis=-1, keepdims=True) / (n - 1))
        z = (x - mean) / std
    bad = (n < MIN_CROSS_SECTION) | ~(std > 1e-12 * np.maximum(1.0, np.abs(mean)))
    z = np.where(bad, np.nan, z)
    if clip is not None:
        z = np.clip(z, -clip, clip)
    return z


def cs_rank_pct(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Average-tie rank along the last axis mapped to (0, 1) as (rank - 0.5) / n; NaN where invalid."""
    x = _masked(values, valid)
    ranks = rankdata(x, axis=-1, nan_policy="omit")
    n = np.isfinite(x).sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = (ranks - 0.5) / n
    return np.where(n < MIN_CROSS_SECTION, np.nan, pct)


def cs_rank(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Centred uniform rank scaled to unit variance: (pct - 0.5) * sqrt(12)."""
    return (cs_rank_pct(values, valid) - 0.5) * np.sqrt(12.0)


def cs_gauss_rank(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Rank mapped through the normal quantile function: a fat-tailed label becomes N(0, 1)-shaped."""
    return ndtri(cs_rank_pct(values, valid))


def transform_features(values: np.ndarray, member: np.ndarray, kind: str, *, clip: float = 5.0) -> np.ndarray:
    """(F, T, N) or (F, N) features -> the same shape, transformed per bar across members.

    "raw" only masks non-members to NaN. Features are processed one at a time to bound memory."""
    if kind not in FEATURE_TRANSFORMS:
        raise ModelError(f"unknown feature transform {kind!r}; expected one of {FEATURE_TRANSFORMS}")
    if values.shape[1:] != member.shape:
        raise ModelError(f"features {values.shape} do not match member mask {member.shape}")
    if values.ndim == 2:  # one bar (live): all features in one vectorised pass
        valid = np.broadcast_to(member, values.shape)
        if kind == "raw":
            return _masked(values, valid)
        return cs_zscore(values, valid, clip=clip) if kind == "cs_zscore" else cs_rank(values, valid)
    out = np.empty(values.shape, dtype=np.float64)
    for f in range(values.shape[0]):
        if kind == "raw":
            out[f] = _masked(values[f], member)
        elif kind == "cs_zscore":
            out[f] = cs_zscore(values[f], member, clip=clip)
        else:
            out[f] = cs_rank(values[f], member)
    return out


def normalise_target(y: np.ndarray, valid: np.ndarray, kind: str) -> np.ndarray:
    """(T, N) labels -> per-bar normalised labels (NaN where invalid). "raw" keeps the values,
    "zscore" z-scores per bar (clipped at +-5), "rank" is the gaussianised per-bar rank."""
    if kind not in TARGET_NORMS:
        raise ModelError(f"unknown target normalisation {kind!r}; expected one of {TARGET_NORMS}")
    if y.shape != valid.shape:
        raise ModelError(f"labels {y.shape} do not match mask {valid.shape}")
    if kind == "raw":
        return _masked(y, valid)
    if kind == "zscore":
        return cs_zscore(y, valid, clip=5.0)
    return cs_gauss_rank(y, valid)
