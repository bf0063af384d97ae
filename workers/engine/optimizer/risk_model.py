"""A statistical factor risk model estimated from a window of past returns only.

Sigma = X X' + diag(idio_var), where X = B F^{1/2} (N x k) are the top-k principal components of
the Ledoit-Wolf shrunk sample covariance, scaled so the factor covariance is the identity. The
optimizer only ever sees X and sqrt(idio_var): the risk term is ||X'w||^2 + ||sqrt(idio) * w||^2,
O(N k) instead of the O(N^2) of a dense quadratic form.

Missing bars (NaN returns) are handled explicitly:
- a name needs at least `min_obs` finite returns in the window to get an estimated risk;
- for those names, missing returns are set to the name's mean (zero after demeaning), which
  shrinks their covariances towards zero rather than inventing co-movement;
- names with too little history get no factor exposure and a high default idiosyncratic
  variance (`default_idio_vol`, annualised), so the optimizer treats them as risky, not riskless.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse.linalg


@dataclass(frozen=True)
class FactorRiskModel:
    """Per-bar risk: `exposures` (N, k) with identity factor covariance, `idio_var` (N,)."""

    exposures: np.ndarray
    idio_var: np.ndarray
    estimated: np.ndarray  # (N,) bool: risk estimated from data (False: default idio only)
    shrinkage: float

    def variance(self, weights: np.ndarray) -> float:
        """Per-bar portfolio variance w' Sigma w."""
        y = self.exposures.T @ weights
        return float(y @ y + np.sum(self.idio_var * weights * weights))

    def vol(self, weights: np.ndarray, periods_per_year: int) -> float:
        """Annualised ex-ante volatility."""
        return float(np.sqrt(max(self.variance(weights), 0.0) * periods_per_year))

    def covariance(self) -> np.ndarray:
        """The dense N x N matrix (tests and diagnostics only; the optimizer never builds it)."""
        return self.exposures @ self.exposures.T + np.diag(self.idio_var)


def ledoit_wolf_intensity(x: np.ndarray) -> float:
    """Ledoit-Wolf (2004) optimal intensity for shrinking the sample covariance S = x'x / L of
    demeaned `x` (L, n) towards its own diagonal. Computed from the L x L Gram matrix and row
    sums, O(L^2 n), without forming the n x n matrices."""
    L = x.shape[0]
    x2 = x * x
    gram = x @ x.T  # (L, L)
    s_fro2 = float(np.sum(gram * gram)) / L**2  # ||S||_F^2
    s_diag = x2.sum(axis=0) / L
    s_off2 = s_fro2 - float(np.sum(s_diag**2))
    # sum_ij pi_ij with pi = (x2' x2) / L - S * S; minus the diagonal part.
    row = x2.sum(axis=1)
    pi_all = float(row @ row) / L - s_fro2
    pi_diag = float(np.sum(x2 * x2)) / L - float(np.sum(s_diag**2))
    num = pi_all - pi_diag
    den = L * s_off2
    return float(np.clip(num / den, 0.0, 1.0)) if den > 0 else 1.0


def top_eigen(x: np.ndarray, delta: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k eigenpairs of the shrunk covariance (1 - delta) x'x / L + delta diag(x'x / L) by
    Lanczos on matrix-vector products (O(L n) each), never forming the n x n matrix. The start
    vector is fixed so the result is deterministic."""
    L, n = x.shape
    diag = np.sum(x * x, axis=0) / L
    if k >= n - 1:
        cov = (1 - delta) * (x.T @ x) / L
        cov[np.diag_indices_from(cov)] = diag
        vals, vecs = np.linalg.eigh(cov)
        return vals[::-1][:k], vecs[:, ::-1][:, :k]

    def matvec(v: np.ndarray) -> np.ndarray:
        v = v.ravel()
        return (1 - delta) * (x.T @ (x @ v)) / L + delta * diag * v

    op = scipy.sparse.linalg.LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    vals, vecs = scipy.sparse.linalg.eigsh(op, k=k, which="LA", v0=np.full(n, 1.0 / np.sqrt(n)), tol=1e-8)
    order = np.argsort(-vals)
    return vals[order], vecs[:, order]


def estimate_factor_model(
    returns_window: np.ndarray,
    *,
    n_factors: int,
    min_obs: int,
    default_idio_vol: float,
    periods_per_year: int,
) -> FactorRiskModel:
    """Fit the model on `returns_window` (L, N) — the past bars up to the decision bar and nothing
    after; the caller builds the window, this function cannot see beyond it."""
    r = np.asarray(returns_window, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"returns_window must be a 2-D (L, N) array, got shape {r.shape}")
    if np.isinf(r).any():
        raise ValueError("returns_window contains infinite values")
    L, N = r.shape
    finite = np.isfinite(r)
    obs = finite.sum(axis=0)
    est = obs >= min_obs
    default_var = default_idio_vol**2 / periods_per_year
    exposures = np.zeros((N, n_factors))
    idio = np.full(N, default_var)
    n_est = int(est.sum())
    if n_est == 0:
        return FactorRiskModel(exposures=exposures, idio_var=idio, estimated=est, shrinkage=1.0)
    x = r[:, est]
    mean = np.nanmean(x, axis=0)
    x = np.where(np.isfinite(x), x - mean, 0.0)
    delta = ledoit_wolf_intensity(x)
    k = min(n_factors, n_est)
    vals, vecs = top_eigen(x, delta, k)
    vals = np.clip(vals, 0.0, None)
    x_load = vecs * np.sqrt(vals)
    # Idiosyncratic variance: the diagonal left over by the factors, floored at 5% of the total
    # so no name looks (almost) riskless to the optimizer.
    diag = np.sum(x * x, axis=0) / L
    resid = diag - np.sum(x_load * x_load, axis=1)
    idio_est = np.maximum(resid, 0.05 * diag)
    idio_est = np.maximum(idio_est, 1e-12)
    exposures[np.flatnonzero(est)[:, None], np.arange(k)[None, :]] = x_load
    idio[est] = idio_est
    return FactorRiskModel(exposures=exposures, idio_var=idio, estimated=est, shrinkage=delta)
