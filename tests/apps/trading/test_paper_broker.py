"""PaperBroker implements the broker interface over the simulated venue (SQLite and, with
DATABASE_URL, PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.paper.models import VenueOrder, VenueOrderEvent
from apps.trading.brokers.base import (
    Broker,
    BrokerOrder,
    CancelRejected,
    DuplicateClientOrderId,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
)
from apps.trading.brokers.paper import PaperBroker
from apps.trading.models import Fill
from apps.trading.services import fill_record, order_submit
from tests.apps.paper.conftest import hourly_bars, utc, venue  # noqa: F401 (fixtures)

from .conftest import create

pytestmark = pytest.mark.django_db
T0 = utc("2025-10-01 10:00:00") + dt.timedelta(seconds=1)


class Clock:
    def __init__(self, at):
        self.at = at.to_pydatetime() if hasattr(at, "to_pydatetime") else at

    def __call__(self):
        return self.at


@pytest.fixture
def broker(venue):  # noqa: F811
    return PaperBroker(venue, clock=Clock(T0))


def _buy(cid, symbol="AAPL", qty=10, limit=None):
    return OrderRequest(
        client_order_id=cid,
        symbol=symbol,
        side=OrderSide.BUY,
        qty=Decimal(qty),
        type=OrderType.MARKET if limit is None else OrderType.LIMIT,
        limit_price=None if limit is None else Decimal(limit),
    )


def test_is_a_broker(broker):
    assert isinstance(broker, Broker) and broker.name == "paper"


def test_submit_and_look_up_by_client_order_id(broker):
    sent = broker.submit(_buy("cid-1"))
    assert isinstance(sent, BrokerOrder)
    assert (sent.status, sent.qty, sent.filled_qty, sent.symbol) == (OrderStatus.ACCEPTED, 10, 0, "AAPL")
    assert broker.order_by_client_id("cid-1") == sent
    with pytest.raises(OrderNotFound):
        broker.order_by_client_id("nope")


def test_duplicate_client_order_id_means_the_first_landed(broker):
    first = broker.submit(_buy("cid-1"))
    with pytest.raises(DuplicateClientOrderId):
        broker.submit(_buy("cid-1", qty=3))
    assert broker.order_by_client_id("cid-1") == first


def test_definitive_reject(broker):
    with pytest.raises(OrderRejected) as info:
        broker.submit(_buy("cid-x", symbol="ZZZZ"))
    assert info.value.code == "unknown_symbol"
    with pytest.raises(OrderNotFound):
        broker.order_by_client_id("cid-x")


def test_cancel(broker):
    order = broker.submit(_buy("cid-1", limit="1"))
    broker.cancel(order.broker_order_id)
    assert broker.order_by_client_id("cid-1").status == OrderStatus.CANCELLED
    assert broker.open_orders() == []
    with pytest.raises(CancelRejected, match="not cancelable"):
        broker.cancel(order.broker_order_id)
    with pytest.raises(OrderNotFound):
        broker.cancel("not-a-uuid")


def _row(rows, symbol, local):
    return rows[(rows.symbol == symbol) & (rows.timestamp == local)].iloc[0]


def test_open_orders_fills_positions_account(broker, hourly_bars):  # noqa: F811
    a = broker.submit(_buy("a", "AAPL", 10))
    broker.submit(_buy("b", "MSFT", 5, limit="1"))
    assert {o.client_order_id for o in broker.open_orders()} == {"a", "b"}
    close_10 = Decimal(_row(hourly_bars, "AAPL", "2025-10-01 10:00:00")["close"])
    bar_11 = _row(hourly_bars, "AAPL", "2025-10-01 11:00:00")
    open_11, close_11 = Decimal(bar_11["open"]), Decimal(bar_11["close"])
    before = broker.account()
    assert before.currency == "USD" and before.cash == Decimal("1000000") and before.equity == before.cash
    assert before.buying_power == before.cash - 10 * close_10 - 5 * 1  # open buys reserve cash

    broker.clock.at = utc("2025-10-01 11:00:00").to_pydatetime()
    assert len(broker.advance().executions) == 1
    (fill,) = broker.fills_since(T0)
    assert (fill.client_order_id, fill.broker_order_id) == ("a", a.broker_order_id)
    assert (fill.qty, fill.price, fill.at) == (10, open_11, utc("2025-10-01 11:00:00"))
    assert fill.fee > 0
    assert broker.fills_since(broker.clock.at + dt.timedelta(seconds=1)) == []
    (pos,) = broker.positions()
    assert (pos.symbol, pos.qty, pos.avg_entry_price, pos.market_value) == (
        "AAPL",
        10,
        open_11,
        10 * close_11,
    )
    after = broker.account()
    assert after.cash == Decimal("1000000") - 10 * open_11 - fill.fee
    assert after.equity == after.cash + 10 * close_11
    assert broker.order_by_client_id("a").status == OrderStatus.FILLED
    assert [o.client_order_id for o in broker.open_orders()] == ["b"]


def test_cancel_all_of_500_open_orders_is_one_bulk_update(broker, venue):  # noqa: F811
    at = T0.to_pydatetime()
    VenueOrder.objects.bulk_create(
        VenueOrder(
            account=venue,
            client_order_id=f"bulk-{k}",
            symbol="AAPL",
            side="buy",
            qty=Decimal(2),
            type="limit",
            time_in_force="gtc",
            limit_price=Decimal(1),
            reserve_price=Decimal(1),
            status="partially_filled" if k % 5 == 0 else "accepted",
            filled_qty=Decimal(1) if k % 5 == 0 else Decimal(0),
            submitted_at=at,
            updated_at=at,
        )
        for k in range(500)
    )
    with CaptureQueriesContext(connection) as queries:
        results = broker.cancel_all()
    assert len(results) == 500 and all(r.ok for r in results)
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1 and "paper_venueorder" in updates[0]
    assert VenueOrder.objects.filter(status="cancelled").count() == 500
    events = VenueOrderEvent.objects.filter(event="cancel")
    assert events.count() == 500 and events.filter(from_status="partially_filled").count() == 100
    assert broker.open_orders() == [] and broker.cancel_all() == []


def test_positions_and_account_read_in_a_fixed_number_of_queries(broker):
    for symbol in ("AAPL", "MSFT", "NVDA"):
        broker.submit(_buy(f"q-{symbol}", symbol, 3))
    broker.clock.at = utc("2025-10-01 12:00:00").to_pydatetime()
    broker.advance()
    with CaptureQueriesContext(connection) as positions_q:
        positions = broker.positions()
    with CaptureQueriesContext(connection) as account_q:
        account = broker.account()
    assert [p.symbol for p in positions] == ["AAPL", "MSFT", "NVDA"]
    assert all(p.market_value is not None for p in positions)
    assert account.equity == account.cash + sum(p.market_value for p in positions)
    # positions, then every last close in one query (not one per name)
    assert len(positions_q.captured_queries) == 2 and len(account_q.captured_queries) == 4


@pytest.mark.django_db(transaction=True)
def test_the_desks_order_path_over_the_paper_broker(account, paper_version, venue, hourly_bars):  # noqa: F811
    """apps.trading's order_create -> order_submit -> fills_since -> fill_record, over the venue:
    the order fills at the next bar's open and the desk records that fill once."""
    close = Decimal(_row(hourly_bars, "AAPL", "2025-10-01 10:00:00")["close"])
    limit = (close * Decimal("1.01")).quantize(Decimal("0.01"))
    order = create(
        account,
        paper_version,
        bar_time=utc("2025-10-01 10:00:00").to_pydatetime(),
        qty=Decimal(10),
        limit_price=limit,
        marks={"AAPL": close},
        decision_price=close,
        decision_time=T0.to_pydatetime(),
    )
    assert order.status == OrderStatus.PENDING_NEW
    broker = PaperBroker(venue, clock=Clock(T0))
    order = order_submit(order=order, broker=broker, arrival_price=close)
    assert order.status == OrderStatus.ACCEPTED and order.broker_order_id
    broker.clock.at = utc("2025-10-01 11:00:00").to_pydatetime()
    broker.advance()
    for _ in range(2):  # delivered twice: recorded once
        for fill in broker.fills_since(T0.to_pydatetime()):
            fill_record(order=order, fill=fill, source="reconcile")
    (row,) = Fill.objects.filter(order=order)
    assert row.price == Decimal(_row(hourly_bars, "AAPL", "2025-10-01 11:00:00")["open"]) and row.qty == 10
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED
    assert broker.order_by_client_id(order.client_order_id).status == OrderStatus.FILLED
