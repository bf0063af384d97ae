"""Backtest settings, validated up front so a bad setting fails before any bar is simulated."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..costs import CostModel
from .governor import GovernorConfig

REMAINDERS = ("cancel", "carry")


class BacktestConfigError(ValueError):
    """A backtest setting that makes no sense, named."""


class BacktestInputError(ValueError):
    """Inputs the backtest refuses (wrong shape, negative weights, ...), named."""


@dataclass(frozen=True)
class BacktestConfig:
    """How orders become fills.

    - Orders are decided at the close of bar t in SHARES (target weight x equity x (1 - cash_buffer)
      / close_t) and fill at the open of t+1, the first price not known at t.
    - `participation`: a fill is at most this fraction of the t+1 bar volume; the rest of the order
      is cancelled or carried to the next bar (`remainder`).
    - `cash_buffer`: the share of equity left uninvested when sizing, so a gap up or costs rarely
      make buys unaffordable; when they do, buys are scaled down so cash never goes negative.
    - `integer_shares`: round target positions down to whole shares (fractional otherwise).
    - `max_weight`: per-name cap applied to every target weight.
    - `min_order_value`: orders smaller than this notional (at the decision close) are not sent,
      a no-trade band against dust rebalancing.
    - `rebalance_every`: the allocator path asks the allocator every k bars (forced exits of names
      that left the universe are sent every bar regardless).
    - `sigma_window` / `adv_window` / `returns_window`: look-backs (bars) for the impact volatility,
      the average dollar volume and the allocator's risk window, all ending at the decision bar.
    """

    initial_cash: float = 1_000_000.0
    costs: CostModel = field(default_factory=CostModel)
    participation: float = 0.10
    remainder: str = "cancel"
    cash_buffer: float = 0.02
    integer_shares: bool = False
    max_weight: float = 1.0
    min_order_value: float = 0.0
    rebalance_every: int = 1
    sigma_window: int = 20
    adv_window: int = 20
    returns_window: int = 60
    governor: GovernorConfig | None = field(default_factory=GovernorConfig)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.initial_cash) and self.initial_cash > 0):
            raise BacktestConfigError(f"initial_cash must be > 0, got {self.initial_cash!r}")
        if not (0 < self.participation <= 1):
            raise BacktestConfigError(f"participation must be in (0, 1], got {self.participation!r}")
        if self.remainder not in REMAINDERS:
            raise BacktestConfigError(f"remainder must be one of {REMAINDERS}, got {self.remainder!r}")
        if not (0 <= self.cash_buffer < 1):
            raise BacktestConfigError(f"cash_buffer must be in [0, 1), got {self.cash_buffer!r}")
        if not (0 < self.max_weight <= 1):
            raise BacktestConfigError(f"max_weight must be in (0, 1], got {self.max_weight!r}")
        if not (self.min_order_value >= 0):
            raise BacktestConfigError(f"min_order_value must be >= 0, got {self.min_order_value!r}")
        for name in ("rebalance_every", "sigma_window", "adv_window", "returns_window"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise BacktestConfigError(f"{name} must be an integer >= 1, got {value!r}")
        if self.sigma_window < 2:
            raise BacktestConfigError("sigma_window must be >= 2 (a standard deviation needs two returns)")
