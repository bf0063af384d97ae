"""Random order flows against the venue (hypothesis): whatever is submitted, cancelled and
advanced, the books hold together: positions = sum of executions, cash = start - buys + sells -
fees and never negative, each order's filled quantity = its executions, no fill after a day
order's close, one execution per order and bar, and re-advancing changes nothing."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.db.models import Count
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.paper.models import VenueExecution, VenueOrder, VenuePosition
from apps.paper.services import (
    paper_order_cancel,
    paper_order_submit,
    paper_venue_advance,
    venue_account_create,
)
from apps.trading.brokers.base import OrderRejected, OrderRequest, OrderSide, OrderType, TimeInForce
from workers.engine.backtest import BacktestConfig

from .conftest import SYMBOLS

pytestmark = pytest.mark.django_db
_names = itertools.count()

order_st = st.tuples(
    st.sampled_from(SYMBOLS),
    st.sampled_from(list(OrderSide)),
    st.integers(1, 3000),
    st.sampled_from([None, 0.98, 1.0, 1.02]),  # market, or a limit at this multiple of the last close
    st.sampled_from([TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]),
)
step_st = st.tuples(st.lists(order_st, max_size=4), st.booleans())  # (orders to send, cancel one?)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step_st, min_size=1, max_size=12), participation=st.sampled_from([1e-4, 1e-3, 0.1]))
def test_books_hold_together(hourly_bars, steps, participation):
    venue = venue_account_create(
        name=f"prop-{next(_names)}",
        cash=Decimal("250000"),
        backtest=BacktestConfig(participation=participation, integer_shares=True),
    )
    stamps = sorted(hourly_bars["ts"].unique())
    closes = {(r.symbol, r.ts): Decimal(r.close) for r in hourly_bars.itertuples()}
    n = 0
    for k, (orders, cancel) in enumerate(steps):
        now = stamps[k].to_pydatetime() + dt.timedelta(seconds=1)
        for symbol, side, qty, limit, tif in orders:
            n += 1
            price = (
                None
                if limit is None
                else (closes[(symbol, stamps[k])] * Decimal(limit)).quantize(Decimal("0.01"))
            )
            request = OrderRequest(
                client_order_id=f"o{n}",
                symbol=symbol,
                side=side,
                qty=Decimal(qty),
                type=OrderType.MARKET if price is None else OrderType.LIMIT,
                time_in_force=tif,
                limit_price=price,
            )
            try:
                paper_order_submit(venue_account=venue, request=request, now=now)
            except OrderRejected as exc:
                assert exc.code in ("insufficient_buying_power", "insufficient_qty")
        if cancel:
            first_open = VenueOrder.objects.filter(
                account=venue, status__in=("accepted", "partially_filled")
            ).first()
            if first_open:
                paper_order_cancel(
                    venue_account=venue, venue_order_id=str(first_open.venue_order_id), now=now
                )
        paper_venue_advance(venue_account=venue, up_to=stamps[k + 1].to_pydatetime())
    again = paper_venue_advance(venue_account=venue, up_to=stamps[len(steps)].to_pydatetime())
    assert again.executions == ()

    executions = list(VenueExecution.objects.filter(account=venue))
    cash, held = Decimal("250000"), {}
    for e in executions:
        sign = 1 if e.side == "buy" else -1
        held[e.symbol] = held.get(e.symbol, Decimal(0)) + sign * e.qty
        cash -= sign * e.qty * e.price + e.fee
    venue.refresh_from_db()
    assert abs(venue.cash - cash) <= Decimal("0.000001") * (len(executions) + 1)
    assert venue.cash >= 0
    assert {p.symbol: p.qty for p in VenuePosition.objects.filter(account=venue)} == {
        s: q for s, q in held.items() if q != 0
    }
    assert all(q >= 0 for q in held.values())
    for order in VenueOrder.objects.filter(account=venue):
        mine = [e for e in executions if e.order_id == order.pk]
        assert sum((e.qty for e in mine), Decimal(0)) == order.filled_qty
        assert all(e.bar_ts > order.submitted_at for e in mine)
        if order.expires_at is not None:
            assert all(e.bar_ts <= order.expires_at for e in mine)
        assert order.status != "filled" or order.filled_qty == order.qty
    per_bar = VenueExecution.objects.filter(account=venue).values("order", "bar_ts").annotate(n=Count("pk"))
    assert all(r["n"] == 1 for r in per_bar)
