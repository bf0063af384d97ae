"""fill_record and the positions derived from fills: idempotent by execution id, never lost (a
fill for a cancelled order is recorded), implementation shortfall per fill, and the hypothesis
test of the issue: fills and trade updates delivered 1-5 times, shuffled => fills = unique
execution ids, positions = sum of fills."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.trading.brokers.base import OrderStatus
from apps.trading.ledger import FillRow, book_from_fills
from apps.trading.models import Fill, Order, TradingAccount
from apps.trading.selectors import account_book, account_pnl
from apps.trading.services import fill_record, order_report_apply, order_transition

from .conftest import BAR, broker_fill, report

D = Decimal
S = OrderStatus
pytestmark = pytest.mark.django_db


def _order(
    account, symbol="AAPL", qty=100, side="buy", decision=Decimal(200), arrival=Decimal("200.50"), bar=BAR
):
    order = Order.objects.create(
        account=account,
        bar_time=bar,
        symbol=symbol,
        side=side,
        qty=D(qty),
        requested_type="limit",
        type="limit",
        limit_price=D(210),
        decision_price=decision,
        arrival_price=arrival,
        client_order_id=f"hg{account.pk}-{bar:%Y%m%d%H%M}-{side[0]}-{symbol}",
    )
    order_transition(order=order, event="submit", source="test", submitted_at=bar)
    return order


def test_same_fill_recorded_five_times_is_one_row(account):
    order = _order(account)
    results = [
        fill_record(order=order, fill=broker_fill(order, "E-1", 40), source="stream") for _ in range(5)
    ]
    assert [created for _row, created in results] == [True, False, False, False, False]
    order.refresh_from_db()
    assert Fill.objects.count() == 1 and order.status == S.PARTIALLY_FILLED


def test_fill_for_a_cancelled_order_is_recorded(account):
    order = _order(account)
    order_transition(order=order, event="cancel", source="test")
    fill_record(order=order, fill=broker_fill(order, "E-late", 100), source="reconcile")
    order.refresh_from_db()
    assert order.status == S.FILLED and Fill.objects.get().execution_id == "E-late"


def test_fill_on_a_rejected_order_is_kept_and_flagged(account):
    order = _order(account)
    order_transition(order=order, event="reject", source="test")
    fill_record(order=order, fill=broker_fill(order, "E-odd", 10), source="reconcile")
    order.refresh_from_db()
    assert order.status == S.REJECTED and Fill.objects.count() == 1
    assert order.events.order_by("pk").last().event == "fill_on_rejected"


def test_shortfall_in_bps_vs_decision_and_arrival(account):
    buy = _order(account)
    row, _ = fill_record(order=buy, fill=broker_fill(buy, "E-1", 100, price="201.00"), source="stream")
    assert (row.shortfall_decision_bps, row.shortfall_arrival_bps) == (D("50.0000"), D("24.9377"))
    sell = _order(account, symbol="MSFT", side="sell", decision=D(100), arrival=None)
    row, _ = fill_record(order=sell, fill=broker_fill(sell, "E-2", 100, price="99.00"), source="stream")
    assert (row.shortfall_decision_bps, row.shortfall_arrival_bps) == (D("100.0000"), None)


def test_fill_that_does_not_match_its_order_is_refused(account):
    order = _order(account)
    other = _order(account, symbol="MSFT")
    with pytest.raises(ValueError, match="is for"):
        fill_record(order=order, fill=broker_fill(other, "E-1", 10), source="stream")
    assert not Fill.objects.exists()


def test_book_average_cost_realised_and_unrealised():
    t = [BAR + dt.timedelta(minutes=i) for i in range(4)]
    fills = [
        FillRow("e1", "AAPL", "buy", D(100), D(10), D(1), t[0]),
        FillRow("e2", "AAPL", "buy", D(100), D(20), D(1), t[1]),
        FillRow("e3", "AAPL", "sell", D(50), D(30), D(1), t[2]),
    ]
    book = book_from_fills(reversed(fills), starting_cash=D(10_000))  # arrival order does not matter
    pos = book.positions["AAPL"]
    assert (pos.qty, pos.avg_cost, pos.realised_pnl, pos.fees) == (D(150), D(15), D(750), D(3))
    assert pos.unrealised_pnl(D(16)) == D(150)
    assert book.cash == D(10_000) - 1_000 - 2_000 + 1_500 - 3
    assert book.equity({"AAPL": D(16)}) == book.cash + 150 * 16
    assert book.realised_pnl() == D(747) and book.unmarked({}) == ["AAPL"]


_accounts = itertools.count()

# Per order (qty 100): partial fill quantities (at most 3 x 25), whether a last fill completes
# it, and whether a cancel arrives too (only when it is not completely filled).
orders_st = st.lists(
    st.tuples(
        st.lists(st.integers(1, 25), min_size=1, max_size=3),
        st.booleans(),
        st.booleans(),
    ).map(lambda t: (t[0] + [100 - sum(t[0])] if t[1] else t[0], t[2])),
    min_size=1,
    max_size=3,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders_st, st.data())
def test_duplicated_shuffled_delivery_gives_unique_fills_and_positions_sum(people, plan, data):
    account = TradingAccount.objects.create(
        name=f"prop-{next(_accounts)}",
        broker_kind="paper",
        endpoint="paper",
        starting_cash=D(1_000_000),
        created_by=people["ada"],
    )
    messages, expected = [], {}
    for i, (qtys, cancels) in enumerate(plan):
        symbol = f"S{i}"
        order = _order(account, symbol=symbol, qty=100)
        messages.append(report(order, "new", S.ACCEPTED))
        for j, q in enumerate(qtys):
            final = j == len(qtys) - 1 and sum(qtys) == 100
            fill = broker_fill(order, f"{symbol}-E{j}", q, at=BAR + dt.timedelta(minutes=j))
            messages.append(
                report(
                    order,
                    "fill" if final else "partial_fill",
                    S.FILLED if final else S.PARTIALLY_FILLED,
                    fill,
                )
            )
        if cancels and sum(qtys) < 100:
            messages += [
                report(order, "pending_cancel", S.PENDING_CANCEL),
                report(order, "canceled", S.CANCELLED),
            ]
        expected[symbol] = D(sum(qtys))
    deliveries = [m for m in messages for _ in range(data.draw(st.integers(1, 5)))]
    for m in data.draw(st.permutations(deliveries)):
        order_report_apply(report=m, source="stream")

    fills = Fill.objects.filter(account=account)
    assert sorted(fills.values_list("execution_id", flat=True)) == sorted(
        f"S{i}-E{j}" for i, (qtys, _c) in enumerate(plan) for j in range(len(qtys))
    )
    book = account_book(account=account)
    assert {s: p.qty for s, p in book.positions.items()} == expected
    for order in Order.objects.filter(account=account):
        filled = expected[order.symbol]
        assert order.status != S.FILLED or filled == order.qty
        assert filled < order.qty or order.status == S.FILLED


def test_account_pnl_from_recorded_fills(account):
    buy = _order(account, qty=100)
    fill_record(order=buy, fill=broker_fill(buy, "E-1", 100, price="200.00"), source="stream")
    sell = _order(account, side="sell", qty=40, bar=BAR + dt.timedelta(hours=1))
    fill_record(
        order=sell,
        fill=broker_fill(sell, "E-2", 40, price="210.00", at=BAR + dt.timedelta(hours=1)),
        source="stream",
    )
    pnl = account_pnl(account=account, marks={"AAPL": D(205)})
    (row,) = pnl.positions
    assert (row.qty, row.avg_cost, row.unrealised_pnl, row.realised_pnl) == (
        D(60),
        D(200),
        D(300),
        D("399.98"),
    )
    assert pnl.cash == D(1_000_000) - 20_000 + 8_400 - D("0.02")
    assert pnl.equity == pnl.cash + 60 * 205 and pnl.unmarked == []
    assert account_pnl(account=account, marks={}).unmarked == ["AAPL"]
