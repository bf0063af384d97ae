"""Alpaca JSON -> base dataclasses: the order status table, Decimal strings, timestamps."""

import datetime as dt
from decimal import Decimal

import pytest

from apps.trading.brokers.alpaca import STATUS_TABLE, MalformedAnswer, UnknownBrokerStatus
from apps.trading.brokers.alpaca.mapping import (
    activity_execution_id,
    decimal,
    order_from_json,
    order_status,
    trade_update_from_json,
)
from apps.trading.brokers.base import OrderStatus

pytestmark = pytest.mark.django_db(databases=[])

# Every status in alpaca-docs' openapi (OrderStatus) and alpaca-py's enum.
ALPACA_STATUSES = {
    "new", "partially_filled", "filled", "done_for_day", "canceled", "expired", "replaced",
    "pending_cancel", "pending_replace", "accepted", "pending_new", "accepted_for_bidding",
    "stopped", "rejected", "suspended", "calculated", "pending_review", "held",
}  # fmt: skip


def test_every_alpaca_status_is_mapped():
    assert set(STATUS_TABLE) == ALPACA_STATUSES


@pytest.mark.parametrize(
    ("status", "filled", "expected"),
    [
        ("pending_new", "0", OrderStatus.SUBMITTED),
        ("accepted", "0", OrderStatus.SUBMITTED),
        ("new", "0", OrderStatus.ACCEPTED),
        ("partially_filled", "3", OrderStatus.PARTIALLY_FILLED),
        ("filled", "10", OrderStatus.FILLED),
        ("canceled", "3", OrderStatus.CANCELLED),
        ("replaced", "0", OrderStatus.CANCELLED),
        ("expired", "0", OrderStatus.EXPIRED),
        ("rejected", "0", OrderStatus.REJECTED),
        ("pending_cancel", "0", OrderStatus.PENDING_CANCEL),
        # "by fills": not terminal, the state follows the executions so far
        ("done_for_day", "0", OrderStatus.ACCEPTED),
        ("done_for_day", "4", OrderStatus.PARTIALLY_FILLED),
        ("calculated", "10", OrderStatus.FILLED),
        ("stopped", "0", OrderStatus.ACCEPTED),
        ("suspended", "2", OrderStatus.PARTIALLY_FILLED),
    ],
)
def test_status_mapping(status, filled, expected):
    assert order_status(status, qty=Decimal("10"), filled_qty=Decimal(filled)) is expected


def test_unknown_status_is_never_guessed():
    with pytest.raises(UnknownBrokerStatus):
        order_status("mystery", qty=Decimal(1), filled_qty=Decimal(0))


def test_decimals_come_from_strings_never_floats():
    assert decimal("0.1", "qty") == Decimal("0.1")
    with pytest.raises(MalformedAnswer):
        decimal(0.1, "qty")
    with pytest.raises(MalformedAnswer):
        decimal("NaN", "qty")


def order_json(**over):
    return {
        "id": "904837e3-3b76-47ec-b432-046db621571b",
        "client_order_id": "c1",
        "symbol": "AAPL",
        "side": "buy",
        "qty": "15",
        "filled_qty": "5",
        "filled_avg_price": "189.9912",
        "type": "limit",
        "time_in_force": "day",
        "limit_price": "190.01",
        "status": "partially_filled",
        "submitted_at": "2026-12-01T15:00:01.123456789Z",
        "updated_at": "2026-12-01T15:00:02Z",
        **over,
    }


def test_order_from_json():
    order = order_from_json(order_json())
    assert order.filled_avg_price == Decimal("189.9912") and order.limit_price == Decimal("190.01")
    assert order.submitted_at.tzinfo == dt.UTC and order.submitted_at.second == 1
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.broker_status == "partially_filled"


def test_order_missing_field_is_malformed():
    data = order_json()
    del data["client_order_id"]
    with pytest.raises(MalformedAnswer, match="client_order_id"):
        order_from_json(data)


def test_trade_update_fill_carries_the_execution():
    report = trade_update_from_json(
        {
            "event": "partial_fill",
            "execution_id": "7d5a8c77-5a1b-4e64-8d0c-3e5b7f0a1c22",
            "order": order_json(),
            "timestamp": "2026-12-01T15:00:02.5Z",
            "price": "189.99",
            "qty": "5",
            "position_qty": "5",
        }
    )
    assert report.event == "partial_fill"
    assert report.fill.execution_id == "7d5a8c77-5a1b-4e64-8d0c-3e5b7f0a1c22"
    assert (report.fill.qty, report.fill.price, report.fill.client_order_id) == (
        Decimal(5),
        Decimal("189.99"),
        "c1",
    )
    canceled = trade_update_from_json({"event": "canceled", "order": order_json(status="canceled"),
                                       "timestamp": "2026-12-01T15:01:00Z"})  # fmt: skip
    assert canceled.fill is None and canceled.order.status is OrderStatus.CANCELLED


def test_activity_id_holds_the_execution_id():
    assert activity_execution_id("20210510100104650::88b5f678-fef5-447b-af15-f21e367e6d8c") == (
        "88b5f678-fef5-447b-af15-f21e367e6d8c"
    )
