"""bulk_write: one UPDATE from a VALUES list, only to the rows the condition still selects."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.paper.models import VenueOrder
from apps.paper.services.common import bulk_write
from apps.paper.services.orders import paper_order_submit, paper_orders_cancel_all
from apps.trading.brokers.base import OrderRequest, OrderSide, OrderType

from .conftest import utc

pytestmark = pytest.mark.django_db


def test_writes_each_rows_values_only_where_the_condition_holds(venue):
    at = utc("2025-10-01 10:00:00").to_pydatetime() + dt.timedelta(seconds=1)
    orders = [
        paper_order_submit(
            venue_account=venue,
            request=OrderRequest(
                client_order_id=f"w{k}",
                symbol="AAPL",
                side=OrderSide.BUY,
                qty=Decimal(10),
                type=OrderType.LIMIT,
                limit_price=Decimal(1),
            ),
            now=at,
        )
        for k in range(3)
    ]
    paper_orders_cancel_all(venue_account=venue, now=at)  # all three leave the open states
    still_open = paper_order_submit(
        venue_account=venue,
        request=OrderRequest(
            client_order_id="w3", symbol="AAPL", side=OrderSide.BUY, qty=Decimal(10), limit_price=Decimal(1)
        ),
        now=at,
    )
    later = at + dt.timedelta(hours=1)
    for k, o in enumerate([*orders, still_open]):
        o.filled_qty, o.filled_avg_price, o.last_bar_ts = Decimal(k + 1), Decimal("1.234567"), later
    written = bulk_write(
        VenueOrder.objects.filter(status__in=("accepted", "partially_filled")),
        [*orders, still_open],
        ("filled_qty", "filled_avg_price", "last_bar_ts"),
    )
    assert written == 1
    still_open.refresh_from_db()
    assert (still_open.filled_qty, still_open.filled_avg_price, still_open.last_bar_ts) == (
        Decimal(4),
        Decimal("1.234567"),
        later,
    )
    for o in orders:
        o.refresh_from_db()
        assert (o.filled_qty, o.filled_avg_price, o.last_bar_ts) == (0, None, None)
