"""On PostgreSQL (real concurrent connections): reconciliations running while the stream applies
the same fills and updates in other threads record each execution once and find no break."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.utils import timezone

from apps.live.services import account_reconcile
from apps.trading.brokers.base import OrderEventReport, OrderRequest, OrderSide, OrderStatus
from apps.trading.models import Fill, Order
from apps.trading.selectors import account_book
from apps.trading.services import order_report_apply, order_transition

from .brokers import InMemoryBroker
from .conftest import create

D = Decimal
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs concurrent PostgreSQL connections; run with DATABASE_URL=postgres://...",
    ),
]


def test_reconcile_races_the_stream_and_each_fill_is_recorded_once(account, paper_version):
    broker = InMemoryBroker()
    updates = []
    for k, symbol in enumerate(("AAPL", "MSFT", "NVDA", "AMZN")):
        order = create(account, paper_version, symbol=symbol, qty=D(40), marks={symbol: D(200)})
        order_transition(order=order, event="submit", source="test", submitted_at=timezone.now())
        request = OrderRequest(order.client_order_id, symbol, OrderSide.BUY, order.qty, limit_price=D(200))
        updates.append(
            OrderEventReport(event="new", order=broker.submit(request), fill=None, at=timezone.now())
        )
        for j in range(4 if k % 2 else 2):
            fill = broker.execute(order.client_order_id, 10, execution_id=f"{symbol}-{j}")
            updates.append(
                OrderEventReport(
                    event="fill", order=broker.orders[order.client_order_id], fill=fill, at=fill.at
                )
            )
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(fn):
        try:
            start.wait()
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def stream(reverse):
        for update in reversed(updates) if reverse else updates:
            order_report_apply(report=update, source="stream")

    rows = []
    threads = [
        threading.Thread(target=work, args=(lambda: stream(False),)),
        threading.Thread(target=work, args=(lambda: stream(True),)),
        threading.Thread(
            target=work,
            args=(lambda: rows.append(account_reconcile(account=account, broker=broker, trigger="cycle")),),
        ),
        threading.Thread(
            target=work,
            args=(
                lambda: rows.append(account_reconcile(account=account, broker=broker, trigger="reconnect")),
            ),
        ),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert all(r.ok for r in rows) and len(rows) == 2, [r.breaks for r in rows]
    assert sorted(Fill.objects.values_list("execution_id", flat=True)) == sorted(
        f.execution_id for f in broker.executions
    )
    assert {s: p.qty for s, p in account_book(account=account).positions.items()} == broker.held
    for order in Order.objects.all():
        assert order.status == broker.orders[order.client_order_id].status
    assert account_reconcile(account=account, broker=broker, trigger="manual").recovered_fills == 0
    assert Order.objects.filter(status=OrderStatus.FILLED).count() == 2
