"""Two workers at once (PostgreSQL, real row locks): advancing one account to the same time from
two threads fills once; submitting one client order id twice at once stores one order."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from apps.paper.models import VenueExecution, VenueOrder
from apps.paper.services import paper_order_submit, paper_venue_advance
from apps.trading.brokers.base import DuplicateClientOrderId, OrderRequest, OrderSide, OrderType

from .conftest import utc

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks (DATABASE_URL)"),
]
T0 = utc("2025-10-01 10:00:00").to_pydatetime() + dt.timedelta(seconds=1)


def _together(n, work):
    barrier = threading.Barrier(n)
    outcomes: list[object] = []

    def run():
        barrier.wait()
        try:
            outcomes.append(work())
        except Exception as exc:  # collected and asserted on by the test
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def _request(cid):
    return OrderRequest(
        client_order_id=cid, symbol="AAPL", side=OrderSide.BUY, qty=Decimal(10), type=OrderType.MARKET
    )


def test_concurrent_advances_fill_once(venue):
    for k in range(3):
        paper_order_submit(venue_account=venue, request=_request(f"c{k}"), now=T0)
    up_to = utc("2025-10-01 12:00:00").to_pydatetime()
    outcomes = _together(4, lambda: paper_venue_advance(venue_account=venue, up_to=up_to))
    assert not [o for o in outcomes if isinstance(o, Exception)]
    assert sorted(len(o.executions) for o in outcomes) == [0, 0, 0, 3]
    assert VenueExecution.objects.count() == 3
    venue.refresh_from_db()
    spent = sum(e.qty * e.price + e.fee for e in VenueExecution.objects.all())
    assert venue.cash == Decimal("1000000") - spent


def test_concurrent_submissions_of_one_client_order_id_store_one_order(venue):
    outcomes = _together(4, lambda: paper_order_submit(venue_account=venue, request=_request("same"), now=T0))
    assert sum(isinstance(o, VenueOrder) for o in outcomes) == 1
    assert sum(isinstance(o, DuplicateClientOrderId) for o in outcomes) == 3
    assert VenueOrder.objects.count() == 1
