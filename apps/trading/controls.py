"""Pre-trade controls (SEC 15c3-5, MiFID II RTS 6 Art. 15), as pure functions: given an order, the
account's limits and the account's state, pass or a reason code. No Django here: the checks are
tested without a database, and `apps.trading.services.orders` runs them inside the transaction
that creates the order, with the state read under the account's row lock.

Reason codes are the stable names refusals are stored and counted under (Order.reason_code). Two
of them are not only refusals: a rejection streak or an intraday loss past its limit also says
"trip the kill switch" (`Decision.trip`); the service records the trip and raises `KillSwitchTrip`.
The message-rate limit is not checked here: it needs an atomic counter (services/rate.py), and is
applied last, so a refused order never spends a message.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

TICK = Decimal("0.01")  # US equities at or above $1 (Reg NMS Rule 612)
BPS = Decimal(10_000)


class Reason(StrEnum):
    BAD_QUANTITY = "bad_quantity"
    NO_REFERENCE_PRICE = "no_reference_price"
    MAX_ORDER_QTY = "max_order_qty"
    MAX_ORDER_NOTIONAL = "max_order_notional"
    MAX_ORDERS_PER_CYCLE = "max_orders_per_cycle"
    MAX_NOTIONAL_PER_CYCLE = "max_notional_per_cycle"
    PRICE_COLLAR = "price_collar"
    MAX_POSITION_WEIGHT = "max_position_weight"
    SELL_EXCEEDS_POSITION = "sell_exceeds_position"  # long-only desk: no short sales
    RESTRICTED_SYMBOL = "restricted_symbol"
    DUPLICATE_ORDER = "duplicate_order"
    MESSAGE_RATE = "message_rate"
    REJECTION_STREAK = "rejection_streak"  # trips the kill switch
    INTRADAY_LOSS = "intraday_loss"  # trips the kill switch
    VERSION_NOT_TRADABLE = "version_not_tradable"  # stage does not match the account's endpoint
    KILL_SWITCH = "kill_switch"  # the account's or the desk's kill switch forbids it (apps.live)


TRIP_REASONS = frozenset({Reason.REJECTION_STREAK, Reason.INTRADAY_LOSS})


@dataclass(frozen=True)
class Limits:
    """One account's effective limits (settings defaults overlaid by the account's overrides)."""

    max_order_notional: Decimal
    max_order_qty: Decimal
    max_orders_per_cycle: int
    max_notional_per_cycle: Decimal
    price_collar_bps: int
    max_position_weight: Decimal
    restricted_symbols: frozenset[str]
    max_messages_per_minute: int
    max_rejection_streak: int
    max_intraday_loss_pct: Decimal

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Limits:
        """Validate and convert (settings strings, JSON overrides); a bad value names its key."""
        names = {f.name for f in fields(cls)}
        unknown = set(values) - names
        missing = names - set(values)
        if unknown or missing:
            raise ValueError(f"risk limits: unknown {sorted(unknown)}, missing {sorted(missing)}")
        out: dict[str, Any] = {}
        for f in fields(cls):
            raw = values[f.name]
            try:
                if f.type == "int":
                    if isinstance(raw, bool) or int(raw) != Decimal(str(raw)):
                        raise ValueError
                    value: Any = int(raw)
                    ok = value >= 1 or (f.name == "price_collar_bps" and value >= 0)
                elif f.type == "Decimal":
                    value = Decimal(str(raw))
                    ok = value.is_finite() and value > 0
                    if f.name in ("max_position_weight", "max_intraday_loss_pct"):
                        ok = ok and value <= 1
                else:
                    if isinstance(raw, str) or not all(isinstance(s, str) for s in raw):
                        raise ValueError
                    value = frozenset(s.strip().upper() for s in raw if s.strip())
                    ok = True
            except (ValueError, TypeError, InvalidOperation):
                raise ValueError(f"risk limit {f.name}: {raw!r} is not a valid {f.type}") from None
            if not ok:
                raise ValueError(f"risk limit {f.name}: {raw!r} is out of range")
            out[f.name] = value
        return cls(**out)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = sorted(v) if isinstance(v, frozenset) else (str(v) if isinstance(v, Decimal) else v)
        return out


@dataclass(frozen=True)
class Intent:
    """An order as the cycle (or a person) wants it, before controls."""

    symbol: str
    side: str  # "buy" | "sell"
    qty: Decimal
    type: str  # "market" | "limit"
    limit_price: Decimal | None
    reference_price: Decimal | None  # last trade, or the last bar's close


@dataclass(frozen=True)
class AccountState:
    """What the checks need to know about the account, read under its row lock."""

    equity: Decimal
    position_qty: Decimal  # of this symbol, from fills
    open_orders_same_side: int  # open orders for this symbol and side, from earlier cycles
    cycle_orders: int  # orders of this cycle that passed controls so far
    cycle_notional: Decimal
    rejection_streak: int  # consecutive definitive broker rejections, most recent first
    intraday_pnl: Decimal  # realised + unrealised since the session start (negative = loss)
    day_start_equity: Decimal


@dataclass(frozen=True)
class Decision:
    reason: Reason | None = None
    detail: str = ""
    limit_price: Decimal | None = None  # the price to send (market orders get a protective limit)
    trip: bool = False

    @property
    def passed(self) -> bool:
        return self.reason is None


def collar_bounds(reference: Decimal, collar_bps: int) -> tuple[Decimal, Decimal]:
    """The prices an order may carry: reference -/+ collar, rounded inward to the tick."""
    band = reference * Decimal(collar_bps) / BPS
    low = (reference - band).quantize(TICK, rounding=ROUND_CEILING)
    high = (reference + band).quantize(TICK, rounding=ROUND_FLOOR)
    return low, high


def protective_limit(side: str, reference: Decimal, collar_bps: int) -> Decimal:
    """A market order becomes a limit at the collar's far edge: it still crosses the spread, but
    cannot fill at an erroneous price."""
    low, high = collar_bounds(reference, collar_bps)
    return high if side == "buy" else low


def _refuse(reason: Reason, detail: str) -> Decision:
    return Decision(reason=reason, detail=detail, trip=reason in TRIP_REASONS)


# The desk trades whole shares only (the kernel and the paper venue size in whole shares for it).
WHOLE_SHARES = True


def check(intent: Intent, limits: Limits, state: AccountState) -> Decision:
    """Every control but the message rate, in a fixed order (kill-switch trips first: once the
    account must stop, no other reason matters). Each limit is inclusive: a value equal to its
    limit passes, one tick/share/order above it is refused."""
    if state.rejection_streak > limits.max_rejection_streak:
        return _refuse(
            Reason.REJECTION_STREAK,
            f"{state.rejection_streak} consecutive rejections > {limits.max_rejection_streak}",
        )
    loss_limit = state.day_start_equity * limits.max_intraday_loss_pct
    if -state.intraday_pnl > loss_limit:
        return _refuse(Reason.INTRADAY_LOSS, f"intraday loss {-state.intraday_pnl} > {loss_limit}")
    if (
        not intent.qty.is_finite()
        or intent.qty <= 0
        or (WHOLE_SHARES and intent.qty != intent.qty.to_integral_value())
    ):
        return _refuse(Reason.BAD_QUANTITY, f"quantity {intent.qty} is not a positive whole number")
    if intent.symbol.upper() in limits.restricted_symbols:
        return _refuse(Reason.RESTRICTED_SYMBOL, f"{intent.symbol} is on the restricted list")
    ref = intent.reference_price
    if ref is None or not ref.is_finite() or ref <= 0:
        return _refuse(Reason.NO_REFERENCE_PRICE, f"no usable last price for {intent.symbol}")
    low, high = collar_bounds(ref, limits.price_collar_bps)
    if intent.type == "market":
        price = protective_limit(intent.side, ref, limits.price_collar_bps)
    else:
        price = intent.limit_price
        if price is None or not price.is_finite() or not (low <= price <= high):
            return _refuse(Reason.PRICE_COLLAR, f"limit {price} outside [{low}, {high}] (last {ref})")
    if intent.qty > limits.max_order_qty:
        return _refuse(Reason.MAX_ORDER_QTY, f"quantity {intent.qty} > {limits.max_order_qty}")
    notional = intent.qty * price
    if notional > limits.max_order_notional:
        return _refuse(Reason.MAX_ORDER_NOTIONAL, f"notional {notional} > {limits.max_order_notional}")
    if state.cycle_orders + 1 > limits.max_orders_per_cycle:
        return _refuse(
            Reason.MAX_ORDERS_PER_CYCLE, f"order {state.cycle_orders + 1} > {limits.max_orders_per_cycle}"
        )
    if state.cycle_notional + notional > limits.max_notional_per_cycle:
        return _refuse(
            Reason.MAX_NOTIONAL_PER_CYCLE,
            f"cycle notional {state.cycle_notional + notional} > {limits.max_notional_per_cycle}",
        )
    if state.open_orders_same_side > 0:
        return _refuse(
            Reason.DUPLICATE_ORDER,
            f"{state.open_orders_same_side} {intent.side} order(s) for {intent.symbol} still working",
        )
    if intent.side == "sell":
        if intent.qty > state.position_qty:
            return _refuse(Reason.SELL_EXCEEDS_POSITION, f"sell {intent.qty} > position {state.position_qty}")
    else:
        # No other buy of this symbol is open here (the duplicate check refused that above), so
        # the position after this order fills is what is held plus this order.
        exposure = (state.position_qty + intent.qty) * price
        cap = state.equity * limits.max_position_weight
        if state.equity <= 0 or exposure > cap:
            return _refuse(Reason.MAX_POSITION_WEIGHT, f"position value {exposure} > {cap}")
    return Decision(limit_price=price)
