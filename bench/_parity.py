"""Paper cycles against the engine's backtest of the same bars, for the parity test
(tests/apps/live/test_parity.py) and the live-cycle benchmark (bench/live_cycle.py).

`paper_parity(runs, panel, result)`: `runs` are an account's consecutive cycles from the first
bar of `panel` (the cycle panel of the last run, from the cycles' anchor), `result` the engine's
backtest over `panel` on the allocator path with whole shares. At each cycle bar t while the
account holds what the backtest holds (positions rebuilt from the account's fills), it compares
the cycle's target weights and share orders (the decision record's and the Order rows it
committed) with the backtest's rows t. The first bar whose positions differ ends the comparison
(from there the books differ and so, legitimately, do the orders): every name that differs is
explained by what its order of the previous cycle became at the venue, classified in `kind`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Why a paper order did not fill as the backtest's (the kinds `paper_parity` names).
LIMIT_GAP = "limit_gap"  # the next open is past the protective limit: expired unfilled
BUYING_POWER = "buying_power"  # the venue refused a buy its buying power (at the limit) cannot pay
OTHER = "other"


@dataclass(frozen=True)
class Parted:
    symbol: str
    backtest_fill: float
    paper_fill: float
    order: str  # what the paper order became
    kind: str


@dataclass
class Parity:
    bars: int = 0  # bars compared (the account held the backtest's positions)
    traded_bars: int = 0  # of which the backtest sent orders
    orders: int = 0  # non-zero share orders compared
    max_weight_diff: float = 0.0
    orders_differ: list[int] = field(default_factory=list)  # bars whose decided orders differ
    committed_differ: list[int] = field(default_factory=list)  # bars whose Order rows differ
    parted_at: int | None = None  # the first bar whose positions differ from the backtest's
    parted: list[Parted] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "bars": self.bars,
            "traded_bars": self.traded_bars,
            "orders": self.orders,
            "max_weight_diff": self.max_weight_diff,
            "orders_differ": self.orders_differ,
            "committed_differ": self.committed_differ,
            "parted_at": self.parted_at,
            "parted": [f"{p.symbol}: {p.kind} ({p.order})" for p in self.parted],
        }


def _by_symbol(values: dict, symbols, missing: float) -> np.ndarray:
    return np.array([missing if values.get(s) is None else values[s] for s in symbols], dtype=np.float64)


def _signed(rows, column: dict[str, int], n: int) -> np.ndarray:
    out = np.zeros(n)
    for symbol, side, qty in rows:
        out[column[symbol]] += float(qty) if side == "buy" else -float(qty)
    return out


def _why(order, next_open) -> tuple[str, str]:
    if order is None:
        return "no order", OTHER
    said = f"{order.side} {order.qty:f} {order.status}"
    if order.status == "rejected" and "buying_power" in (order.reason_code or ""):
        return f"{said}: {order.reason_detail}", BUYING_POWER
    if (
        order.type == "limit"
        and next_open is not None
        and (next_open > order.limit_price if order.side == "buy" else next_open < order.limit_price)
    ):
        return f"{said}: next open {next_open:f} past the limit {order.limit_price:f}", LIMIT_GAP
    return f"{said} ({order.reason_code or 'no reason'})", OTHER


def paper_parity(runs, panel, result) -> Parity:
    from apps.marketdata.models import Bar
    from apps.trading.models import Fill, Order

    symbols = panel.symbols
    column = {s: i for i, s in enumerate(symbols)}
    n = len(symbols)
    out = Parity()
    held = np.zeros(n)
    for t, run in enumerate(runs[:-1]):  # the last bar decides in the cycle, never in the backtest
        if t > 0:
            fills = Fill.objects.filter(order__cycle=runs[t - 1]).values_list("symbol", "side", "qty")
            paper_fill = _signed(fills, column, n)
            held += paper_fill
            if not np.array_equal(held, result.positions[t]):
                out.parted_at = t
                orders = {o.symbol: o for o in Order.objects.filter(cycle=runs[t - 1])}
                opens = dict(
                    Bar.objects.filter(frequency=panel.freq, ts=run.bar_time).values_list(
                        "instrument__symbol", "open"
                    )
                )
                for i in np.flatnonzero(held != result.positions[t]):
                    s = symbols[i]
                    said, kind = _why(orders.get(s), opens.get(s))
                    out.parted.append(Parted(s, float(result.fills[t, i]), float(paper_fill[i]), said, kind))
                return out
        decision = run.decision
        weights = _by_symbol(decision["weights"], symbols, np.nan)
        orders = _by_symbol(decision["orders"], symbols, 0.0)
        committed = _signed(Order.objects.filter(cycle=run).values_list("symbol", "side", "qty"), column, n)
        out.bars += 1
        out.traded_bars += bool(np.any(result.orders[t]))
        out.orders += int(np.count_nonzero(result.orders[t]))
        out.max_weight_diff = max(
            out.max_weight_diff, float(np.max(np.abs(weights - result.target_weights[t])))
        )
        if not np.array_equal(orders, result.orders[t]):
            out.orders_differ.append(t)
        if not np.array_equal(committed, result.orders[t]):
            out.committed_differ.append(t)
    return out
