"""Alpaca's JSON (Trading API v2) -> the broker interface's dataclasses. Decimal values arrive as
JSON strings and become Decimal without passing through float; timestamps are RFC 3339 in UTC.

Order status table (every status Alpaca documents, plus the two alpaca-py adds). Our states are
NautilusTrader's; the order service's transition table accepts a repeated state as no change, so
the mapping is chosen to be monotone along Alpaca's real sequences (accepted -> pending_new ->
new -> partially_filled -> filled) and never moves an order backwards:

| Alpaca                | ours                    | why |
|-----------------------|-------------------------|-----|
| pending_new           | submitted               | received, routed, the venue has not accepted it yet |
| accepted              | submitted               | received by Alpaca, not yet routed (e.g. outside market hours) |
| accepted_for_bidding  | submitted               | received for an auction, not yet working |
| pending_review        | submitted               | (alpaca-py) under review before acceptance |
| new                   | accepted                | working at the venue |
| partially_filled      | partially_filled        | |
| filled                | filled                  | |
| pending_cancel        | pending_cancel          | our cancel is on its way; a fill may still arrive |
| canceled              | cancelled               | terminal (a late fill is still recorded by the order service) |
| expired               | expired                 | terminal: time in force ran out |
| rejected              | rejected                | terminal, definitive |
| replaced              | cancelled               | terminal for THIS order: it lives on as the order in `replaced_by`; the desk never sends replaces, so seeing one means someone else did (reconciliation adopts the new order) |
| done_for_day          | by fills                | not terminal: no more executions today; a GTC order resumes tomorrow, a DAY order will turn expired |
| calculated            | by fills                | done for the day, settlement calculations pending: the fills so far are final |
| stopped               | by fills                | a trade is guaranteed but has not happened yet: still working |
| suspended             | by fills                | at the venue but not eligible for trading: still open, cancelable |
| pending_replace       | by fills                | a replace is pending: the order still works until it is replaced |
| held                  | by fills                | (alpaca-py) a held bracket leg: open, not yet active |

"by fills": filled_qty == 0 -> accepted, 0 < filled_qty < qty -> partially_filled, filled_qty >=
qty -> filled. An unknown status raises UnknownBrokerStatus (never guessed).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from ..base import (
    BrokerAccount,
    BrokerError,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    OrderEventReport,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)

BY_FILLS = "by fills"

STATUS_TABLE: dict[str, OrderStatus | str] = {
    "pending_new": OrderStatus.SUBMITTED,
    "accepted": OrderStatus.SUBMITTED,
    "accepted_for_bidding": OrderStatus.SUBMITTED,
    "pending_review": OrderStatus.SUBMITTED,
    "new": OrderStatus.ACCEPTED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "pending_cancel": OrderStatus.PENDING_CANCEL,
    "canceled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
    "replaced": OrderStatus.CANCELLED,
    "done_for_day": BY_FILLS,
    "calculated": BY_FILLS,
    "stopped": BY_FILLS,
    "suspended": BY_FILLS,
    "pending_replace": BY_FILLS,
    "held": BY_FILLS,
}


class UnknownBrokerStatus(BrokerError):
    """Alpaca sent an order status (or value) this adapter does not know: never guessed."""


class MalformedAnswer(BrokerError):
    """A field Alpaca documents is missing or does not parse."""


def decimal(value: Any, field: str) -> Decimal:
    """A Decimal from Alpaca's JSON string (or integer); a float is refused, it has lost digits."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedAnswer(f"{field}: expected a decimal string, got {value!r}")
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise MalformedAnswer(f"{field}: {value!r} is not a decimal") from None
    if not parsed.is_finite():
        raise MalformedAnswer(f"{field}: {value!r} is not finite")
    return parsed


def decimal_or_none(value: Any, field: str) -> Decimal | None:
    return None if value is None or value == "" else decimal(value, field)


def timestamp(value: Any, field: str) -> dt.datetime:
    if not isinstance(value, str):
        raise MalformedAnswer(f"{field}: expected an RFC 3339 timestamp, got {value!r}")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedAnswer(f"{field}: {value!r} is not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise MalformedAnswer(f"{field}: {value!r} has no UTC offset")
    return parsed.astimezone(dt.UTC)


def timestamp_or_none(value: Any, field: str) -> dt.datetime | None:
    return None if value is None or value == "" else timestamp(value, field)


def _enum(enum: type, value: Any, field: str):
    try:
        return enum(value)
    except ValueError:
        raise UnknownBrokerStatus(f"{field}: unknown value {value!r}") from None


def _required(data: dict[str, Any], name: str, what: str) -> Any:
    if name not in data or data[name] is None:
        raise MalformedAnswer(f"{what}: field {name!r} missing")
    return data[name]


def order_status(alpaca_status: str, *, qty: Decimal, filled_qty: Decimal) -> OrderStatus:
    """Our state for an Alpaca order status (the table in the module docstring)."""
    mapped = STATUS_TABLE.get(alpaca_status)
    if mapped is None:
        raise UnknownBrokerStatus(f"unknown Alpaca order status {alpaca_status!r}")
    if mapped != BY_FILLS:
        return OrderStatus(mapped)
    if filled_qty <= 0:
        return OrderStatus.ACCEPTED
    return OrderStatus.FILLED if filled_qty >= qty else OrderStatus.PARTIALLY_FILLED


def order_from_json(data: dict[str, Any]) -> BrokerOrder:
    what = f"order {data.get('id', '?')}"
    qty = decimal(_required(data, "qty", what), "qty")
    filled_qty = decimal(data.get("filled_qty") or "0", "filled_qty")
    status = str(_required(data, "status", what))
    return BrokerOrder(
        broker_order_id=str(_required(data, "id", what)),
        client_order_id=str(_required(data, "client_order_id", what)),
        symbol=str(_required(data, "symbol", what)),
        side=_enum(OrderSide, data.get("side"), "side"),
        qty=qty,
        filled_qty=filled_qty,
        filled_avg_price=decimal_or_none(data.get("filled_avg_price"), "filled_avg_price"),
        type=_enum(OrderType, data.get("type") or data.get("order_type"), "type"),
        time_in_force=_enum(TimeInForce, data.get("time_in_force"), "time_in_force"),
        limit_price=decimal_or_none(data.get("limit_price"), "limit_price"),
        status=order_status(status, qty=qty, filled_qty=filled_qty),
        broker_status=status,
        submitted_at=timestamp_or_none(data.get("submitted_at"), "submitted_at"),
        updated_at=timestamp_or_none(data.get("updated_at"), "updated_at"),
        raw=data,
    )


def activity_execution_id(activity_id: str) -> str:
    """The execution id inside a FILL activity id `<transaction time>::<execution uuid>`, so a fill
    read over REST carries the same id as the trade_updates event of that execution. (Alpaca
    documents the activity id only as "the activity ID"; the split is the observed format.)"""
    return activity_id.rpartition("::")[2]


def fill_from_activity(data: dict[str, Any], *, client_order_id: str) -> BrokerFill:
    """A FILL account activity (GET /v2/account/activities/FILL). Alpaca charges no commission on
    equities; regulatory fees post as separate FEE activities, so `fee` is 0 here."""
    what = f"fill activity {data.get('id', '?')}"
    return BrokerFill(
        execution_id=activity_execution_id(str(_required(data, "id", what))),
        broker_order_id=str(_required(data, "order_id", what)),
        client_order_id=client_order_id,
        symbol=str(_required(data, "symbol", what)),
        side=_enum(OrderSide, data.get("side"), "side"),
        qty=decimal(_required(data, "qty", what), "qty"),
        price=decimal(_required(data, "price", what), "price"),
        fee=Decimal("0"),
        at=timestamp(_required(data, "transaction_time", what), "transaction_time"),
        raw=data,
    )


def position_from_json(data: dict[str, Any]) -> BrokerPosition:
    what = f"position {data.get('symbol', '?')}"
    return BrokerPosition(
        symbol=str(_required(data, "symbol", what)),
        qty=decimal(_required(data, "qty", what), "qty"),
        avg_entry_price=decimal(_required(data, "avg_entry_price", what), "avg_entry_price"),
        market_value=decimal_or_none(data.get("market_value"), "market_value"),
    )


def account_from_json(data: dict[str, Any]) -> BrokerAccount:
    what = "account"
    return BrokerAccount(
        currency=str(_required(data, "currency", what)),
        cash=decimal(_required(data, "cash", what), "cash"),
        equity=decimal(_required(data, "equity", what), "equity"),
        buying_power=decimal(_required(data, "buying_power", what), "buying_power"),
        trading_blocked=bool(
            data.get("trading_blocked") or data.get("account_blocked") or data.get("trade_suspended_by_user")
        ),
    )


FILL_EVENTS = frozenset({"fill", "partial_fill"})


def trade_update_from_json(data: dict[str, Any]) -> OrderEventReport:
    """One `trade_updates` message's `data`: the order as of the event, and for fill /
    partial_fill the execution (`execution_id`, `price`, `qty` of this execution, `timestamp`)."""
    what = "trade update"
    event = str(_required(data, "event", what))
    order = order_from_json(_required(data, "order", what))
    at = timestamp(data.get("timestamp") or order.raw.get("updated_at"), "timestamp")
    fill = None
    if event in FILL_EVENTS:
        fill = BrokerFill(
            execution_id=str(_required(data, "execution_id", what)),
            broker_order_id=order.broker_order_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            qty=decimal(_required(data, "qty", what), "qty"),
            price=decimal(_required(data, "price", what), "price"),
            fee=Decimal("0"),
            at=at,
            raw=data,
        )
    return OrderEventReport(event=event, order=order, fill=fill, at=at)
