"""The issue's property test: fills and trade updates (OrderEventReports through
order_report_apply) delivered 1-5 times, shuffled, some dropped, then account_reconcile: the
stored fills are exactly the broker's unique execution ids, the positions (account_book) the sum
of the broker's fills, every order in the broker's final state, and no break."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.live.models import KillSwitch
from apps.live.services import account_reconcile
from apps.trading.brokers.base import OrderEventReport, OrderRequest, OrderSide, OrderStatus
from apps.trading.models import Fill, Order, TradingAccount
from apps.trading.selectors import account_book
from apps.trading.services import order_report_apply, order_transition

from .brokers import InMemoryBroker

D = Decimal
S = OrderStatus
BAR = dt.datetime(2025, 10, 1, 14, 0, tzinfo=dt.UTC)
pytestmark = pytest.mark.django_db
_accounts = itertools.count()

# Per order (qty 100): partial fill quantities, whether a last fill completes it, and how an
# incomplete one ends at the broker (still working, cancelled or expired).
order_st = st.tuples(
    st.lists(st.integers(1, 25), min_size=0, max_size=3),
    st.booleans(),
    st.sampled_from([None, S.CANCELLED, S.EXPIRED]),
)
END_EVENT = {S.CANCELLED: "canceled", S.EXPIRED: "expired"}


def _send(account, broker, symbol: str) -> Order:
    """An order committed, its submit committed, and the broker holding it (accepted)."""
    order = Order.objects.create(
        account=account,
        bar_time=BAR,
        symbol=symbol,
        side="buy",
        qty=D(100),
        requested_type="limit",
        type="limit",
        limit_price=D(210),
        client_order_id=f"hg{account.pk}-{BAR:%Y%m%d%H%M}-b-{symbol}",
    )
    order_transition(order=order, event="submit", source="test", submitted_at=timezone.now())
    broker.submit(
        OrderRequest(
            client_order_id=order.client_order_id,
            symbol=symbol,
            side=OrderSide.BUY,
            qty=order.qty,
            limit_price=order.limit_price,
        )
    )
    return order


def _stream(broker, order: Order, qtys: list[int], complete: bool, end) -> list[OrderEventReport]:
    """What happens to `order` at the broker, as the trade updates the stream would send."""
    cid = order.client_order_id
    now = timezone.now()
    updates = [OrderEventReport(event="new", order=broker.orders[cid], fill=None, at=now)]
    if complete:
        qtys = [*qtys, 100 - sum(qtys)]
    for j, qty in enumerate(qtys):
        fill = broker.execute(cid, qty, at=now + dt.timedelta(seconds=j), execution_id=f"{cid}-E{j}")
        event = "fill" if broker.orders[cid].status == S.FILLED else "partial_fill"
        updates.append(OrderEventReport(event=event, order=broker.orders[cid], fill=fill, at=fill.at))
    if end is not None and not complete:
        updates.append(
            OrderEventReport(event=END_EVENT[end], order=broker.finish(cid, end), fill=None, at=now)
        )
    return updates


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(order_st, min_size=1, max_size=3), data=st.data())
def test_duplicated_shuffled_dropped_updates_then_reconcile(people, plan, data):
    account = TradingAccount.objects.create(
        name=f"recon-prop-{next(_accounts)}",
        broker_kind="paper",
        endpoint="paper",
        starting_cash=D(1_000_000),
        created_by=people["ada"],
    )
    broker = InMemoryBroker()
    updates = []
    for i, (qtys, complete, end) in enumerate(plan):
        updates += _stream(broker, _send(account, broker, f"S{i}"), qtys, complete, end)
    # each update delivered 0 (dropped) to 5 times, in any order
    deliveries = [u for u in updates for _ in range(data.draw(st.integers(0, 5), label=u.event))]
    for update in data.draw(st.permutations(deliveries), label="delivery order"):
        order_report_apply(report=update, source="stream")

    row = account_reconcile(account=account, broker=broker, trigger="reconnect")

    assert row.ok, row.breaks
    assert not KillSwitch.objects.filter(account=account).exists()  # never halted
    stored = sorted(Fill.objects.filter(account=account).values_list("execution_id", flat=True))
    assert stored == sorted({f.execution_id for f in broker.executions})
    expected: dict[str, Decimal] = {}
    for f in broker.executions:
        expected[f.symbol] = expected.get(f.symbol, D(0)) + f.qty
    book = account_book(account=account)
    assert {s: p.qty for s, p in book.positions.items()} == expected
    assert {s: q for s, q in broker.held.items() if q} == {s: q for s, q in expected.items() if q}
    for order in Order.objects.filter(account=account):
        assert order.status == broker.orders[order.client_order_id].status, order
    # and once more: nothing left to recover, nothing changes
    again = account_reconcile(account=account, broker=broker, trigger="cycle")
    assert again.ok and again.recovered_fills == 0 and again.resolved_orders == 0
