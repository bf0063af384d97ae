"""An in-memory Broker for the kill switch and reconciliation tests (tests only). What it
simulates, honestly: a venue holding positions (set by the test) and the orders sent to it. A
submitted order is accepted and rests, unless `fill_sells` is set, in which case a sell fills at
once at its limit price and reduces the position (never below zero: a sell larger than the
position is refused, as a long-only venue would). Sells of symbols in `refuse_sells` get a
definitive OrderRejected. cancel_all cancels every resting order. No latency unless
`submit_delay_s`.

Executions happen when the test says (`execute`: one fill of a resting order, which moves its
filled quantity, status and the position, and is reported by `fills_since`); `finish` cancels or
expires an order at the venue. With `down` set every read raises OutcomeUnknown (an outage)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable
from decimal import Decimal

from apps.trading.brokers.base import (
    BrokerAccount,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    CancelResult,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OutcomeUnknown,
)


class InMemoryBroker:
    name = "memory"

    def __init__(
        self,
        *,
        positions: dict[str, Decimal] | None = None,
        fill_sells: bool = False,
        refuse_sells: frozenset[str] = frozenset(),
        submit_delay_s: float = 0.0,
        on_submit: Callable[[OrderRequest], None] | None = None,
        equity: Decimal = Decimal("1000000"),
    ) -> None:
        self.held = dict(positions or {})
        self.fill_sells = fill_sells
        self.refuse_sells = refuse_sells
        self.submit_delay_s = submit_delay_s
        self.on_submit = on_submit
        self.equity = equity
        self.orders: dict[str, BrokerOrder] = {}  # by client order id
        self.submitted: list[tuple[float, OrderRequest]] = []  # (time.time() on arrival, request)
        self.cancel_all_calls = 0
        self.executions: list[BrokerFill] = []
        self.down = False
        self._lock = threading.Lock()

    def _read(self) -> None:
        if self.down:
            raise OutcomeUnknown("memory broker: connection refused")

    def submit(self, request: OrderRequest) -> BrokerOrder:
        arrived = time.time()
        if self.on_submit is not None:
            self.on_submit(request)
        with self._lock:
            self.submitted.append((arrived, request))
        if self.submit_delay_s:
            time.sleep(self.submit_delay_s)
        if request.side == "sell" and request.symbol in self.refuse_sells:
            raise OrderRejected(f"{request.symbol} is not tradable", code="40310000", http_status=403)
        status = OrderStatus.ACCEPTED
        filled = Decimal(0)
        if self.fill_sells and request.side == "sell":
            have = self.held.get(request.symbol, Decimal(0))
            if request.qty > have:
                raise OrderRejected("insufficient qty available", code="40310000", http_status=403)
            self.held[request.symbol] = have - request.qty
            status, filled = OrderStatus.FILLED, request.qty
        order = BrokerOrder(
            broker_order_id=f"M-{len(self.orders) + 1}",
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            qty=request.qty,
            filled_qty=filled,
            filled_avg_price=request.limit_price if filled else None,
            type=request.type,
            time_in_force=request.time_in_force,
            limit_price=request.limit_price,
            status=status,
            broker_status="filled" if filled else "new",
        )
        self.orders[request.client_order_id] = order
        return order

    def rest(self, order: BrokerOrder) -> None:
        """Put an order the test made on the venue (as if it had been sent earlier)."""
        self.orders[order.client_order_id] = order

    def cancel(self, broker_order_id: str) -> None:
        raise AssertionError("the kill switch cancels in bulk (cancel_all)")

    def cancel_all(self) -> list[CancelResult]:
        self.cancel_all_calls += 1
        out = []
        for cid, o in list(self.orders.items()):
            if o.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.SUBMITTED):
                self.orders[cid] = dataclasses.replace(
                    o, status=OrderStatus.CANCELLED, broker_status="canceled"
                )
                out.append(CancelResult(broker_order_id=o.broker_order_id, ok=True))
        return out

    def execute(
        self,
        client_order_id: str,
        qty,
        *,
        price=None,
        at: dt.datetime | None = None,
        execution_id: str | None = None,
    ) -> BrokerFill:
        """One execution of a resting order (at its limit price, now, unless told)."""
        order = self.orders[client_order_id]
        qty = Decimal(qty)
        price = Decimal(price) if price is not None else order.limit_price
        filled = order.filled_qty + qty
        assert filled <= order.qty, f"{client_order_id}: overfill {filled} > {order.qty}"
        done = filled == order.qty
        self.orders[client_order_id] = dataclasses.replace(
            order,
            filled_qty=filled,
            filled_avg_price=price,
            status=OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED,
            broker_status="filled" if done else "partially_filled",
        )
        sign = 1 if order.side == "buy" else -1
        self.held[order.symbol] = self.held.get(order.symbol, Decimal(0)) + sign * qty
        fill = BrokerFill(
            execution_id=execution_id or f"X-{len(self.executions) + 1}",
            broker_order_id=order.broker_order_id,
            client_order_id=client_order_id,
            symbol=order.symbol,
            side=order.side,
            qty=qty,
            price=price,
            fee=Decimal("0.01"),
            at=at or dt.datetime.now(dt.UTC),
        )
        self.executions.append(fill)
        return fill

    def finish(self, client_order_id: str, status: OrderStatus) -> BrokerOrder:
        """The venue ends a resting order (cancelled or expired)."""
        self.orders[client_order_id] = dataclasses.replace(
            self.orders[client_order_id],
            status=status,
            broker_status={OrderStatus.CANCELLED: "canceled"}.get(status, status.value),
        )
        return self.orders[client_order_id]

    def open_orders(self) -> list[BrokerOrder]:
        self._read()
        working = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_CANCEL)
        return [o for o in self.orders.values() if o.status in working]

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder:
        self._read()
        try:
            return self.orders[client_order_id]
        except KeyError:
            raise OrderNotFound(client_order_id) from None

    def positions(self) -> list[BrokerPosition]:
        self._read()
        return [
            BrokerPosition(symbol=s, qty=q, avg_entry_price=Decimal("200"), market_value=q * Decimal("200"))
            for s, q in sorted(self.held.items())
            if q != 0
        ]

    def account(self) -> BrokerAccount:
        return BrokerAccount(currency="USD", cash=self.equity, equity=self.equity, buying_power=self.equity)

    def fills_since(self, since: dt.datetime) -> list[BrokerFill]:
        self._read()
        return sorted((f for f in self.executions if f.at >= since), key=lambda f: (f.at, f.execution_id))


def for_account(account) -> InMemoryBroker:
    """A `TRADING_BROKER_FACTORY` for the command tests: an empty venue per call."""
    return InMemoryBroker()
