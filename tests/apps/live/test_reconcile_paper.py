"""account_reconcile over the real PaperBroker (apps.paper's simulated venue on real hourly bars):
fills the desk missed are recovered from the venue (whose clock is the market's, in the past of
the wall clock, as in a replay), an order cancelled at the venue is settled, and an order placed
on the venue by someone else is a break."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.live.machine import State
from apps.live.models import KillSwitch
from apps.live.services import account_reconcile
from apps.paper.services import paper_order_cancel
from apps.trading.brokers.base import OrderRequest, OrderSide, OrderStatus
from apps.trading.brokers.paper import PaperBroker
from apps.trading.models import Fill, Order
from apps.trading.selectors import account_book
from apps.trading.services import order_report_apply, order_transition
from tests.apps.paper.conftest import hourly_bars, utc, venue  # noqa: F401 (fixtures)

from .conftest import create

pytestmark = pytest.mark.django_db
D = Decimal
BAR_10 = utc("2025-10-01 10:00:00").to_pydatetime()


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


def _close(bars, symbol: str, local: str) -> Decimal:
    row = bars[(bars.symbol == symbol) & (bars.timestamp == local)].iloc[0]
    return Decimal(row["close"])


def _send(account, version, broker, symbol: str, qty: int, limit: Decimal) -> Order:
    """order_submit's steps (it must run outside the test's transaction): submit, broker, apply."""
    order = create(
        account,
        version,
        symbol=symbol,
        qty=D(qty),
        bar_time=BAR_10,
        limit_price=limit,
        marks={symbol: limit},
        decision_price=limit,
    )
    order_transition(order=order, event="submit", source="test", submitted_at=BAR_10)
    request = OrderRequest(
        client_order_id=order.client_order_id,
        symbol=symbol,
        side=OrderSide.BUY,
        qty=order.qty,
        limit_price=limit,
    )
    return order_report_apply(report=broker.submit(request), source="broker:paper")


def test_missed_paper_fills_are_recovered_and_positions_agree(account, paper_version, venue, hourly_bars):  # noqa: F811
    broker = PaperBroker(venue, clock=Clock(BAR_10 + dt.timedelta(seconds=1)))
    close = _close(hourly_bars, "AAPL", "2025-10-01 10:00:00")
    filled = _send(account, paper_version, broker, "AAPL", 10, (close * D("1.01")).quantize(D("0.01")))
    resting = _send(account, paper_version, broker, "MSFT", 5, D("1.00"))  # far below the market
    broker.clock.at = utc("2025-10-01 11:00:00").to_pydatetime()
    assert len(broker.advance().executions) == 1  # ... and the desk never records it
    paper_order_cancel(venue_account=venue, venue_order_id=resting.broker_order_id, now=broker.clock())

    row = account_reconcile(account=account, broker=broker, trigger="startup")

    assert row.ok, row.breaks
    assert row.recovered_fills == 1 and "1 of ours updated" in row.detail
    filled.refresh_from_db()
    resting.refresh_from_db()
    assert (filled.status, resting.status) == (OrderStatus.FILLED, OrderStatus.CANCELLED)
    (fill,) = broker.fills_since(BAR_10)
    assert Fill.objects.get().execution_id == fill.execution_id
    book = account_book(account=account)
    assert {s: p.qty for s, p in book.positions.items()} == {p.symbol: p.qty for p in broker.positions()}
    again = account_reconcile(account=account, broker=broker, trigger="cycle")
    assert again.ok and again.recovered_fills == 0 and Fill.objects.count() == 1


def test_an_order_placed_on_the_venue_by_someone_else_halts(account, paper_version, venue, hourly_bars):  # noqa: F811
    broker = PaperBroker(venue, clock=Clock(BAR_10 + dt.timedelta(seconds=1)))
    close = _close(hourly_bars, "NVDA", "2025-10-01 10:00:00")
    broker.submit(
        OrderRequest(
            client_order_id="by-hand-1",
            symbol="NVDA",
            side=OrderSide.BUY,
            qty=D(3),
            limit_price=(close * D("1.05")).quantize(D("0.01")),
        )
    )
    row = account_reconcile(account=account, broker=broker, trigger="cycle")
    assert [b["kind"] for b in row.breaks] == ["unknown_order"]
    broker.clock.at = utc("2025-10-01 11:00:00").to_pydatetime()
    broker.advance()  # it fills: an unknown fill and a position the desk does not have
    row = account_reconcile(account=account, broker=broker, trigger="cycle")
    assert sorted(b["kind"] for b in row.breaks) == ["position", "unknown_fill"]
    assert KillSwitch.objects.get(account=account).state == State.HALTED
