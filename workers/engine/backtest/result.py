"""What a backtest leaves behind: dense per-bar arrays plus compact structured order / fill records.

The simulator writes dense (T, N) rows (cheap in the loop); the structured records are derived
here on demand with vectorised gathers, so recording never costs a Python object per fill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..panel import Panel
from .config import BacktestConfig
from .governor import STATES
from .inputs import SimInputs

ORDER_DTYPE = np.dtype(
    [("bar", np.int64), ("symbol", np.int32), ("shares", np.float64), ("ref_price", np.float64)]
)
FILL_DTYPE = np.dtype(
    [
        ("bar", np.int64),  # the fill bar (decided at bar - 1)
        ("symbol", np.int32),
        ("shares", np.float64),  # signed: + buy, - sell
        ("price", np.float64),  # the raw open of the fill bar
        ("notional", np.float64),  # |shares| x price
        ("slippage", np.float64),
        ("spread", np.float64),
        ("impact", np.float64),
        ("commission", np.float64),
        ("cost", np.float64),
        ("effective_price", np.float64),  # price +/- cost / |shares|
    ]
)


@dataclass(frozen=True, eq=False)
class BacktestResult:
    panel: Panel
    config: BacktestConfig
    equity: np.ndarray  # (T,) close-marked equity
    cash: np.ndarray  # (T,) cash after the bar's fills
    positions: np.ndarray  # (T, N) shares held at the close of t
    orders: np.ndarray  # (T, N) signed shares ordered at the close of t (fill at t+1)
    fills: np.ndarray  # (T, N) signed shares filled at the open of t
    target_weights: np.ndarray  # (T, N) weights sent at t after caps (NaN = no decision / hold)
    traded_value: np.ndarray  # (T,) notional traded at the open of t
    cost_paid: np.ndarray  # (T,) total cost paid at t
    buy_scale: np.ndarray  # (T,) < 1 when buys were truncated for cash at t
    drawdown: np.ndarray  # (T,) drawdown seen by the governor at t
    exposure_cap: np.ndarray  # (T,) governor exposure cap at t
    risk_state: np.ndarray  # (T,) int8 governor state code (STATES)
    risk_history: np.ndarray | None  # structured (bar, from_state, to_state, drawdown)
    inputs: SimInputs
    allocation_log: list = field(default_factory=list)  # (bar, status, reason) per allocator call
    allocator_seconds: float = 0.0
    solver_ms: float = 0.0

    @property
    def risk_state_names(self) -> np.ndarray:
        return np.asarray(STATES)[self.risk_state]

    @cached_property
    def returns(self) -> np.ndarray:
        """(T,) simple returns of equity; bar 0 is measured against the initial cash."""
        prev = np.concatenate(([self.config.initial_cash], self.equity[:-1]))
        return self.equity / prev - 1.0

    @cached_property
    def realised_weights(self) -> np.ndarray:
        """(T, N) position value / equity at the close of t."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.positions * self.inputs.mark / self.equity[:, None]

    @property
    def exposure(self) -> np.ndarray:
        return self.realised_weights.sum(axis=1)

    @property
    def turnover(self) -> np.ndarray:
        """(T,) one-way traded notional at t over the equity at t-1 (buys + sells)."""
        prev = np.concatenate(([self.config.initial_cash], self.equity[:-1]))
        return self.traded_value / prev

    @cached_property
    def order_records(self) -> np.ndarray:
        bars, syms = np.nonzero(self.orders)
        out = np.empty(len(bars), dtype=ORDER_DTYPE)
        out["bar"], out["symbol"] = bars, syms
        out["shares"] = self.orders[bars, syms]
        out["ref_price"] = self.inputs.mark[bars, syms]
        return out

    @cached_property
    def fill_records(self) -> np.ndarray:
        """Every fill with its cost split, recomputed with the simulator's own cost formula."""
        bars, syms = np.nonzero(self.fills)
        shares = self.fills[bars, syms]
        qty = np.abs(shares)
        price = self.inputs.open0[bars, syms]
        parts = self.config.costs.parts(
            qty, price, volume=self.inputs.volume[bars, syms], sigma=self.inputs.sigma_prev[bars, syms]
        )
        out = np.empty(len(bars), dtype=FILL_DTYPE)
        out["bar"], out["symbol"], out["shares"], out["price"] = bars, syms, shares, price
        out["notional"] = qty * price
        out["slippage"], out["spread"], out["impact"], out["commission"] = (
            parts.slippage,
            parts.spread,
            parts.impact,
            parts.commission,
        )
        out["cost"] = parts.total
        out["effective_price"] = price + np.sign(shares) * out["cost"] / qty
        return out

    def cost_breakdown(self) -> dict[str, float]:
        f = self.fill_records
        return {k: float(f[k].sum()) for k in ("slippage", "spread", "impact", "commission", "cost")}

    def summary(self) -> dict[str, float]:
        return {
            "final_equity": float(self.equity[-1]),
            "n_orders": int(np.count_nonzero(self.orders)),
            "n_fills": int(np.count_nonzero(self.fills)),
            "total_cost": float(self.cost_paid.sum()),
            "min_cash": float(self.cash.min()),
            "truncated_buy_bars": int((self.buy_scale < 1).sum()),
        }
