"""`PaperBroker`: the broker interface over the simulated venue of apps.paper.

The venue's books are database rows (apps.paper.models), so a paper account survives restarts
like a real broker's. Fills happen only when the venue is advanced over new bars
(`advance(up_to)`, i.e. `apps.paper.services.paper_venue_advance`), which the live cycle does
after each bar close: a paper fill is the backtest's fill of the same order (next bar's open,
engine cost model, participation cap).

The venue's clock is `clock()` (default: the wall clock). A replay passes its accelerated market
clock so that submission times, the "next bar" and day-order expiry follow the replayed hours.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.utils import timezone

from apps.paper.models import VenueAccount, VenueExecution, VenueOrder
from apps.paper.selectors import (
    venue_balance,
    venue_executions_since,
    venue_last_closes,
    venue_open_orders,
    venue_order_by_client_id,
    venue_positions,
)
from apps.paper.services import (
    AdvanceResult,
    paper_order_cancel,
    paper_order_submit,
    paper_orders_cancel_all,
    paper_orders_submit,
    paper_venue_advance,
)

from .base import (
    BrokerAccount,
    BrokerError,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    CancelResult,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)


def broker_order(order: VenueOrder) -> BrokerOrder:
    return BrokerOrder(
        broker_order_id=str(order.venue_order_id),
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=OrderSide(order.side),
        qty=order.qty,
        filled_qty=order.filled_qty,
        filled_avg_price=order.filled_avg_price,
        type=OrderType(order.type),
        time_in_force=TimeInForce(order.time_in_force),
        limit_price=order.limit_price,
        status=OrderStatus(order.status),
        broker_status=order.status,
        submitted_at=order.submitted_at,
        updated_at=order.updated_at,
    )


def broker_fill(execution: VenueExecution) -> BrokerFill:
    return BrokerFill(
        execution_id=execution.execution_id,
        broker_order_id=str(execution.order.venue_order_id),
        client_order_id=execution.order.client_order_id,
        symbol=execution.symbol,
        side=OrderSide(execution.side),
        qty=execution.qty,
        price=execution.price,
        fee=execution.fee,
        at=execution.at,
    )


class PaperBroker:
    """apps.trading.brokers.base.Broker over one venue account."""

    name = "paper"

    def __init__(
        self, venue_account: VenueAccount, *, clock: Callable[[], dt.datetime] = timezone.now
    ) -> None:
        self.venue_account = venue_account
        self.clock = clock

    def __repr__(self) -> str:
        return f"PaperBroker({self.venue_account.name!r})"

    def submit(self, request: OrderRequest) -> BrokerOrder:
        order = paper_order_submit(venue_account=self.venue_account, request=request, now=self.clock())
        return broker_order(order)

    def submit_many(self, requests: list[OrderRequest]) -> list[BrokerOrder | BrokerError]:
        """The venue takes a batch in one transaction (see `submit_requests`)."""
        now = self.clock()
        outcomes = paper_orders_submit(venue_account=self.venue_account, requests=requests, now=now)
        return [o if isinstance(o, BrokerError) else broker_order(o) for o in outcomes]

    def cancel(self, broker_order_id: str) -> None:
        paper_order_cancel(venue_account=self.venue_account, venue_order_id=broker_order_id, now=self.clock())

    def cancel_all(self) -> list[CancelResult]:
        return paper_orders_cancel_all(venue_account=self.venue_account, now=self.clock())

    def open_orders(self) -> list[BrokerOrder]:
        return [broker_order(o) for o in venue_open_orders(venue_account=self.venue_account)]

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder:
        return broker_order(
            venue_order_by_client_id(venue_account=self.venue_account, client_order_id=client_order_id)
        )

    def positions(self) -> list[BrokerPosition]:
        held = venue_positions(venue_account=self.venue_account)
        closes = venue_last_closes(
            symbols=[p.symbol for p in held], frequency=self.venue_account.frequency, at=self.clock()
        )
        return [
            BrokerPosition(
                symbol=p.symbol,
                qty=p.qty,
                avg_entry_price=p.avg_entry_price,
                market_value=None if closes.get(p.symbol) is None else p.qty * closes[p.symbol],
            )
            for p in held
        ]

    def account(self) -> BrokerAccount:
        balance = venue_balance(venue_account=self.venue_account, at=self.clock())
        return BrokerAccount(
            currency=self.venue_account.currency,
            cash=balance.cash,
            equity=balance.equity,
            buying_power=balance.buying_power,
        )

    def fills_since(self, since: dt.datetime) -> list[BrokerFill]:
        return [broker_fill(e) for e in venue_executions_since(venue_account=self.venue_account, since=since)]

    def advance(self, up_to: dt.datetime | None = None) -> AdvanceResult:
        """Paper only: let the venue fill over the bars known by `up_to` (default: the clock)."""
        return paper_venue_advance(venue_account=self.venue_account, up_to=up_to or self.clock())
