"""The one broker interface every adapter implements, in plain frozen dataclasses.

Framework-free (no Django): adapters are tested against local servers without a database, and
the order management services (apps.trading.services) are the only callers. Quantities and prices
are Decimal, as brokers send them (Alpaca: JSON strings); the engine never sees these types.

Error contract (NautilusTrader's rule, and the one that prevents duplicate orders):
- `OrderRejected` only for a definitive answer that guarantees the order was NOT accepted (a 4xx
  such as 403 insufficient buying power or 422 invalid parameters). Only then may an order be
  marked rejected.
- `OutcomeUnknown` (timeouts, connection drops, 5xx, 429 after the request may have been read):
  the order is still in flight. It is resolved by `order_by_client_id`, never by blind
  resubmission.
- `DuplicateClientOrderId`: the broker already has an order with this client order id, i.e. an
  earlier submission landed; look it up by client order id.

A broker may also take a batch (`submit_many`: the paper venue, in one transaction); callers go
through `submit_requests`, which falls back to one `submit` per request (Alpaca has no batch
order endpoint).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable


class OrderStatus(StrEnum):
    """Our order states (after NautilusTrader's). The transition table lives in
    apps.trading.orders; adapters map their broker's statuses onto these."""

    PENDING_NEW = "pending_new"  # persisted, not yet sent (or sent, outcome unknown)
    SUBMITTED = "submitted"  # sent, the broker has not acknowledged it yet
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    PENDING_CANCEL = "pending_cancel"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    OPG = "opg"
    CLS = "cls"


@dataclass(frozen=True)
class OrderRequest:
    client_order_id: str  # deterministic, <= 48 characters (Alpaca's limit)
    symbol: str
    side: OrderSide
    qty: Decimal
    type: OrderType = OrderType.LIMIT
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_price: Decimal | None = None


@dataclass(frozen=True)
class BrokerOrder:
    """An order as the broker reports it."""

    broker_order_id: str
    client_order_id: str
    symbol: str
    side: OrderSide
    qty: Decimal
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    type: OrderType
    time_in_force: TimeInForce
    limit_price: Decimal | None
    status: OrderStatus  # normalised by the adapter
    broker_status: str  # the broker's own word for it ("new", "done_for_day", ...)
    submitted_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class BrokerFill:
    """One execution. `execution_id` is unique per broker account: the key that makes recording
    a fill idempotent however often it is delivered."""

    execution_id: str
    broker_order_id: str
    client_order_id: str
    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    fee: Decimal
    at: dt.datetime
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class BrokerPosition:
    symbol: str
    qty: Decimal  # long-only desk: >= 0 expected; a negative value is a reconciliation break
    avg_entry_price: Decimal
    market_value: Decimal | None = None


@dataclass(frozen=True)
class BrokerAccount:
    currency: str
    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    trading_blocked: bool = False


@dataclass(frozen=True)
class CancelResult:
    broker_order_id: str
    ok: bool
    detail: str = ""  # the broker's reason when not ok (e.g. "not cancelable: filled")


@dataclass(frozen=True)
class OrderEventReport:
    """A streamed order update (Alpaca `trade_updates`): the order as of the event, plus the
    fill when the event is one."""

    event: str  # the broker's event name ("new", "fill", "partial_fill", "canceled", ...)
    order: BrokerOrder
    fill: BrokerFill | None
    at: dt.datetime


class BrokerError(Exception):
    """Anything a broker call can raise; subclasses say what the caller may conclude."""


class OrderRejected(BrokerError):
    """Definitive: the broker did not and will not accept this order."""

    def __init__(self, message: str, *, code: str = "", http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status


class DuplicateClientOrderId(BrokerError):
    """The client order id is already known to the broker: an earlier submission landed."""


class CancelRejected(BrokerError):
    """Definitive: the broker refused to cancel (e.g. the order is already filled or otherwise not
    cancelable). Nothing changed; the order is as the broker reports it (look it up)."""


class OrderNotFound(BrokerError):
    """The broker has no order with this id / client order id (definitive lookup answer)."""


class OutcomeUnknown(BrokerError):
    """Timeout, dropped connection, 5xx: the request may or may not have taken effect."""


class RateLimited(OutcomeUnknown):
    """429: too many requests. `retry_after_s` from the broker's headers when it gave one."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@runtime_checkable
class Broker(Protocol):
    """What the order management services need from a venue."""

    name: str

    def submit(self, request: OrderRequest) -> BrokerOrder: ...

    def cancel(self, broker_order_id: str) -> None: ...

    def cancel_all(self) -> list[CancelResult]: ...

    def open_orders(self) -> list[BrokerOrder]: ...

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder: ...

    def positions(self) -> list[BrokerPosition]: ...

    def account(self) -> BrokerAccount: ...

    def fills_since(self, since: dt.datetime) -> list[BrokerFill]: ...


def submit_requests(broker: Broker, requests: list[OrderRequest]) -> list[BrokerOrder | BrokerError]:
    """Each request's outcome, in order: the broker's order, or the error `submit` raised
    (`OrderRejected`, `DuplicateClientOrderId`, `OutcomeUnknown`; anything else propagates). A
    broker with a `submit_many(requests)` of this contract takes the batch in one call."""
    many = getattr(broker, "submit_many", None)
    if many is not None:
        return many(requests)
    out: list[BrokerOrder | BrokerError] = []
    for request in requests:
        try:
            out.append(broker.submit(request))
        except (OrderRejected, DuplicateClientOrderId, OutcomeUnknown) as exc:
            out.append(exc)
    return out
