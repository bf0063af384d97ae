"""Positions and cash derived from fills, as pure functions (no Django): the one definition of
average cost and realised / unrealised PnL. `apps.trading.selectors` feeds it an account's fills;
there is no stored position row to drift from them.

Average cost: a buy raises the average to the quantity-weighted mean of the old average and the
fill price (fees are not folded in, they are summed separately so realised PnL before and after
costs can both be shown); a sell realises (price - average) * qty and leaves the average as it is.
Fills are applied in (time, execution id) order, so the result is the same however the fills
arrived.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class FillRow:
    execution_id: str
    symbol: str
    side: str  # "buy" | "sell"
    qty: Decimal
    price: Decimal
    fee: Decimal
    at: object  # a datetime; only its order matters here


@dataclass(frozen=True)
class Position:
    symbol: str
    qty: Decimal
    avg_cost: Decimal
    realised_pnl: Decimal  # before fees
    fees: Decimal
    bought: Decimal  # total quantity bought (for checks against the fills)
    sold: Decimal

    def market_value(self, mark: Decimal) -> Decimal:
        return self.qty * mark

    def unrealised_pnl(self, mark: Decimal) -> Decimal:
        return (mark - self.avg_cost) * self.qty


@dataclass(frozen=True)
class Book:
    positions: dict[str, Position]
    cash: Decimal

    def equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Cash plus positions at `marks`; a held symbol without a mark is valued at cost (and
        named by `unmarked`, so a caller can refuse to trade on a stale valuation)."""
        return self.cash + sum((p.qty * marks.get(s, p.avg_cost) for s, p in self.positions.items()), ZERO)

    def unmarked(self, marks: Mapping[str, Decimal]) -> list[str]:
        return sorted(s for s, p in self.positions.items() if p.qty and s not in marks)

    def unrealised_pnl(self, marks: Mapping[str, Decimal]) -> Decimal:
        return sum((p.unrealised_pnl(marks[s]) for s, p in self.positions.items() if s in marks), ZERO)

    def realised_pnl(self) -> Decimal:
        return sum((p.realised_pnl - p.fees for p in self.positions.values()), ZERO)


def book_from_fills(fills: Iterable[FillRow], *, starting_cash: Decimal) -> Book:
    state: dict[str, list[Decimal]] = {}  # symbol -> [qty, avg, realised, fees, bought, sold]
    cash = starting_cash
    for f in sorted(fills, key=lambda f: (f.at, f.execution_id)):
        qty, avg, realised, fees, bought, sold = state.get(f.symbol) or [ZERO] * 6
        if f.side == "buy":
            avg = (avg * qty + f.price * f.qty) / (qty + f.qty)
            qty += f.qty
            bought += f.qty
            cash -= f.qty * f.price
        else:
            realised += (f.price - avg) * f.qty
            qty -= f.qty
            sold += f.qty
            cash += f.qty * f.price
            if qty == 0:
                avg = ZERO
        fees += f.fee
        cash -= f.fee
        state[f.symbol] = [qty, avg, realised, fees, bought, sold]
    positions = {s: Position(s, *values) for s, values in state.items()}
    return Book(positions=positions, cash=cash)
