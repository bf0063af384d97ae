"""Concurrent delivery on PostgreSQL (real row locks; SQLite serialises every writer): the same
fill from two threads gives one row and no IntegrityError escapes; the same decision from two
threads gives one order; two threads racing for the last message of a minute: one wins."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from apps.trading.models import Fill, MessageWindow, Order
from apps.trading.services import fill_record, message_take

from .conftest import broker_fill, create
from .test_fills import _order

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL row locks (SQLite serialises all writers); run with DATABASE_URL=postgres://...",
    ),
]


def _race(fn, n: int = 2) -> list:
    """Run fn() in n threads (own connections) released together; returns results or exceptions."""
    barrier = threading.Barrier(n)
    out: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            out[i] = fn()
        except Exception as exc:  # noqa: BLE001 - reported by the test's assertion
            out[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return out


@pytest.mark.parametrize("round_", range(5))
def test_same_fill_from_two_threads_is_one_row(account, round_):
    order = _order(account)
    fill = broker_fill(order, "E-dup", 100)
    results = _race(lambda: fill_record(order=order, fill=fill, source="stream"))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(created for _row, created in results) == [False, True]
    assert Fill.objects.filter(execution_id="E-dup").count() == 1
    order.refresh_from_db()
    assert order.status == "filled" and order.events.filter(event="fill").count() == 1


def test_same_decision_from_two_threads_is_one_order(account, paper_version):
    results = _race(lambda: create(account, paper_version))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert results[0].pk == results[1].pk and Order.objects.count() == 1
    assert MessageWindow.objects.get().count == 1


def test_last_messages_of_a_minute_are_shared_out_exactly(account):
    now = dt.datetime(2025, 10, 1, 14, 0, tzinfo=dt.UTC)
    results = _race(lambda: message_take(account=account, limit=10, now=now, n=4), n=4)
    assert sorted(results) == [0, 2, 4, 4]
    assert MessageWindow.objects.get().count == 10


def test_last_message_of_a_minute_goes_to_one_thread(account):
    now = dt.datetime(2025, 10, 1, 14, 0, tzinfo=dt.UTC)
    results = _race(lambda: message_take(account=account, limit=3, now=now), n=4)
    assert sorted(results) == [0, 1, 1, 1]
    assert MessageWindow.objects.get().count == 3


def test_distinct_fills_from_many_threads_all_land(account):
    order = _order(account)
    fills = [broker_fill(order, f"E-{i}", 10) for i in range(6)]
    it = iter(fills)
    lock = threading.Lock()

    def one():
        with lock:
            fill = next(it)
        return fill_record(order=order, fill=fill, source="stream")

    results = _race(one, n=6)
    assert not [r for r in results if isinstance(r, Exception)], results
    order.refresh_from_db()
    assert Fill.objects.filter(order=order).count() == 6 and order.status == "partially_filled"
    assert sum(f.qty for f in Fill.objects.filter(order=order)) == Decimal(60)
