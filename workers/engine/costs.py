"""Transaction cost model: slippage + half-spread + square-root market impact + commission.

Why vectorised: the simulator calls it once per bar over all names, so the cost of a fill is never
computed in a Python loop, and the records recompute the split of every fill with the same
elementwise formula afterwards (the parts sum to what was charged up to float rounding).

Cost of trading q shares (|q|, either side) at price p in a bar of volume V, with per-bar
volatility sigma (std of close-to-close returns, known before the fill):

    slippage   = |q| p * slippage_bps / 1e4
    spread     = |q| p * half_spread_bps / 1e4
    impact     = |q| p * impact_eta * sigma * sqrt(|q| / V)          (square-root law)
    commission = max(|q| * commission_per_share, commission_min)     (only when |q| > 0)

All parts are in currency and always >= 0. The simulator deducts them from cash (fills are
recorded at the raw open; the effective price is open +/- cost / |q|).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class CostModelError(ValueError):
    """A cost model parameter that makes no sense, named."""


@dataclass(frozen=True)
class CostParts:
    """(N,) arrays in currency."""

    slippage: np.ndarray
    spread: np.ndarray
    impact: np.ndarray
    commission: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.slippage + self.spread + self.impact + self.commission


@dataclass(frozen=True)
class CostModel:
    slippage_bps: float = 1.0
    half_spread_bps: float = 0.5
    impact_eta: float = 0.5
    commission_per_share: float = 0.0
    commission_min: float = 0.0

    def __post_init__(self) -> None:
        for name in (
            "slippage_bps",
            "half_spread_bps",
            "impact_eta",
            "commission_per_share",
            "commission_min",
        ):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise CostModelError(f"{name} must be a finite number >= 0, got {value!r}")

    @classmethod
    def zero(cls) -> CostModel:
        return cls(slippage_bps=0.0, half_spread_bps=0.0, impact_eta=0.0)

    @property
    def is_zero(self) -> bool:
        return not (
            self.slippage_bps
            or self.half_spread_bps
            or self.impact_eta
            or self.commission_per_share
            or self.commission_min
        )

    @property
    def linear_rate(self) -> float:
        """Cost per unit of notional that does not depend on size (slippage + half spread)."""
        return (self.slippage_bps + self.half_spread_bps) * 1e-4

    def impact_coefficient(self, volume: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """eta * sigma / sqrt(V), so that impact = notional * coef * sqrt(|q|).

        Precomputed over a whole panel by the simulator (one vectorised pass instead of one per
        bar). Where volume is missing / zero or sigma unknown the coefficient is 0: the simulator
        never fills without volume, and an unknown volatility pays no impact rather than NaN."""
        with np.errstate(divide="ignore", invalid="ignore"):
            coef = self.impact_eta * sigma / np.sqrt(volume)
        return np.where(np.isfinite(coef), coef, 0.0)

    def total(self, qty: np.ndarray, price: np.ndarray, coef: np.ndarray) -> np.ndarray:
        """Total cost per name: the hot path of the simulator (a handful of numpy passes).

        `qty` is the absolute traded quantity (>= 0; 0 costs 0), `coef` the impact coefficient."""
        notional = qty * price
        if self.impact_eta:
            cost = notional * (self.linear_rate + coef * np.sqrt(qty))
        else:
            cost = notional * self.linear_rate
        if self.commission_per_share or self.commission_min:
            cost = cost + self._commission(qty)
        return cost

    def parts(
        self, qty: np.ndarray, price: np.ndarray, *, volume: np.ndarray, sigma: np.ndarray
    ) -> CostParts:
        """The split of the cost of each fill, in currency (sums to `total` up to rounding)."""
        qty = np.asarray(qty, dtype=np.float64)
        if (qty < 0).any():
            raise CostModelError("qty must be absolute traded quantities (>= 0)")
        notional = qty * np.asarray(price, dtype=np.float64)
        zeros = np.zeros_like(notional)
        coef = self.impact_coefficient(
            np.asarray(volume, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
        )
        return CostParts(
            slippage=notional * (self.slippage_bps * 1e-4),
            spread=notional * (self.half_spread_bps * 1e-4),
            impact=notional * coef * np.sqrt(qty) if self.impact_eta else zeros,
            commission=self._commission(qty) if (self.commission_per_share or self.commission_min) else zeros,
        )

    def _commission(self, qty: np.ndarray) -> np.ndarray:
        return np.where(qty > 0, np.maximum(qty * self.commission_per_share, self.commission_min), 0.0)
