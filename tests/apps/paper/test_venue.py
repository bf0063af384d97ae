"""The simulated venue: next-open fills through the engine's cost model and participation cap,
partial fills, limits, expiry, definitive rejects, idempotent advancing, parity with a backtest."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from apps.marketdata.models import Bar, Instrument
from apps.paper.fills import fill_settings
from apps.paper.models import VenueExecution, VenueOrder, VenueOrderEvent, VenuePosition
from apps.paper.services import paper_order_submit, paper_venue_advance, venue_account_create
from apps.trading.brokers.base import (
    DuplicateClientOrderId,
    OrderRejected,
    OrderRequest,
    OrderSide,
    OrderType,
    TimeInForce,
)
from workers.engine.backtest import BacktestConfig, run_backtest
from workers.engine.panel import Panel

from .conftest import SYMBOLS, utc

pytestmark = pytest.mark.django_db
SECOND = dt.timedelta(seconds=1)


def _bar(rows: pd.DataFrame, symbol: str, local: str) -> pd.Series:
    hit = rows[(rows["symbol"] == symbol) & (rows["timestamp"] == local)]
    assert len(hit) == 1
    return hit.iloc[0]


def _submit(venue, cid, symbol, qty, *, at, side=OrderSide.BUY, limit=None, tif=TimeInForce.DAY):
    request = OrderRequest(
        client_order_id=cid,
        symbol=symbol,
        side=side,
        qty=Decimal(qty),
        type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
        time_in_force=tif,
        limit_price=None if limit is None else Decimal(limit),
    )
    return paper_order_submit(venue_account=venue, request=request, now=at)


def _cost(venue, qty, price, coef=0.0):
    cfg = fill_settings(venue.fill_config)
    return cfg.costs.total(np.array([float(qty)]), np.array([float(price)]), np.array([coef]))[0]


def test_fills_at_the_open_of_the_first_bar_ending_after_submission(venue, hourly_bars):
    order = _submit(venue, "c1", "AAPL", 10, at=utc("2025-10-01 10:00:00") + SECOND)
    assert order.status == "accepted"
    result = paper_venue_advance(venue_account=venue, up_to=utc("2025-10-01 11:00:00"))
    (ex,) = result.executions
    bar = _bar(hourly_bars, "AAPL", "2025-10-01 11:00:00")
    assert ex.price == Decimal(bar["open"]) and ex.qty == 10
    assert ex.bar_ts == utc("2025-10-01 11:00:00")
    order.refresh_from_db()
    assert order.status == "filled" and order.filled_avg_price == Decimal(bar["open"])
    venue.refresh_from_db()
    assert venue.cash == Decimal("1000000") - 10 * Decimal(bar["open"]) - ex.fee
    # costs: slippage + half spread of the default model (impact needs 2 returns of history: none yet)
    assert float(ex.fee) == pytest.approx(_cost(venue, 10, bar["open"]), abs=1e-6)
    assert VenuePosition.objects.get(account=venue, symbol="AAPL").qty == 10
    events = list(VenueOrderEvent.objects.filter(order=order).values_list("event", "to_status", "detail"))
    assert [e[:2] for e in events] == [("submit", "accepted"), ("fill", "filled")]
    assert events[1][2]["execution_id"] == ex.execution_id


def test_advancing_twice_fills_nothing_twice(venue):
    _submit(venue, "c1", "MSFT", 5, at=utc("2025-10-01 10:00:00") + SECOND)
    up_to = utc("2025-10-01 12:00:00")
    first = paper_venue_advance(venue_account=venue, up_to=up_to)
    venue.refresh_from_db()
    cash = venue.cash
    again = paper_venue_advance(venue_account=venue, up_to=up_to)
    later = paper_venue_advance(venue_account=venue, up_to=up_to + dt.timedelta(hours=5))
    assert len(first.executions) == 1 and again.executions == () and later.executions == ()
    venue.refresh_from_db()
    assert venue.cash == cash and VenueExecution.objects.count() == 1


def test_bars_not_yet_known_are_not_used(venue):
    _submit(venue, "c1", "AAPL", 10, at=utc("2025-10-01 10:00:00") + SECOND)
    late = utc("2025-10-01 11:00:00")
    Bar.objects.filter(instrument__symbol="AAPL", ts=late).update(known_at=late + dt.timedelta(minutes=5))
    assert paper_venue_advance(venue_account=venue, up_to=late).executions == ()
    (ex,) = paper_venue_advance(venue_account=venue, up_to=late + dt.timedelta(minutes=5)).executions
    assert ex.bar_ts == late


def test_participation_cap_binds_rest_stays_open_then_expires_at_the_close(hourly_bars):
    venue = venue_account_create(
        name="thin", cash=Decimal("5000000"), backtest=BacktestConfig(participation=1e-4, integer_shares=True)
    )
    day = [f"2025-10-01 {h}:00:00" for h in ("11", "12", "13", "14", "15")]  # the fixture has no 16:00 bar
    caps = [int(1e-4 * int(_bar(hourly_bars, "NVDA", t)["volume"])) for t in day]
    qty = sum(caps) + 5  # more than the day's bars allow
    order = _submit(venue, "big", "NVDA", qty, at=utc("2025-10-01 10:00:00") + SECOND)
    paper_venue_advance(venue_account=venue, up_to=utc(day[0]))
    order.refresh_from_db()
    assert order.status == "partially_filled" and order.filled_qty == caps[0]  # the rest stays open
    paper_venue_advance(venue_account=venue, up_to=utc(day[1]))
    order.refresh_from_db()
    assert order.filled_qty == caps[0] + caps[1] and order.status == "partially_filled"
    paper_venue_advance(venue_account=venue, up_to=utc(day[-1]))
    order.refresh_from_db()
    assert order.status == "partially_filled" and order.filled_qty == sum(caps)
    result = paper_venue_advance(venue_account=venue, up_to=utc("2025-10-02 11:00:00"))
    order.refresh_from_db()
    assert order.status == "expired" and result.expired == ("big",) and result.executions == ()
    assert [e.qty for e in VenueExecution.objects.filter(order=order)] == caps


def test_day_order_not_filled_expires_at_the_session_close(venue, hourly_bars):
    open_ = Decimal(_bar(hourly_bars, "AAPL", "2025-10-01 11:00:00")["open"])
    order = _submit(venue, "lim", "AAPL", 10, at=utc("2025-10-01 10:00:00") + SECOND, limit=Decimal("1.00"))
    assert open_ > 1
    paper_venue_advance(venue_account=venue, up_to=utc("2025-10-01 15:00:00"))
    order.refresh_from_db()
    assert order.status == "accepted" and order.filled_qty == 0
    result = paper_venue_advance(venue_account=venue, up_to=utc("2025-10-01 16:00:00"))
    order.refresh_from_db()
    assert order.status == "expired" and result.expired == ("lim",)
    assert order.expires_at == utc("2025-10-01 16:00:00")
    assert list(VenueOrderEvent.objects.filter(order=order).values_list("event", flat=True)) == [
        "submit",
        "expire",
    ]


def test_limit_orders_are_honoured(venue, hourly_bars):
    open_ = Decimal(_bar(hourly_bars, "AAPL", "2025-10-01 11:00:00")["open"])
    at = utc("2025-10-01 10:00:00") + SECOND
    below = _submit(venue, "below", "AAPL", 1, at=at, limit=open_ - Decimal("0.01"), tif=TimeInForce.IOC)
    at_open = _submit(venue, "at", "AAPL", 1, at=at, limit=open_, tif=TimeInForce.IOC)
    paper_venue_advance(venue_account=venue, up_to=utc("2025-10-01 11:00:00"))
    below.refresh_from_db()
    at_open.refresh_from_db()
    assert below.status == "expired" and below.filled_qty == 0  # a buy limit below the open does not fill
    assert at_open.status == "filled" and at_open.filled_avg_price == open_


def test_sell_limit_above_the_open_does_not_fill(venue, hourly_bars):
    _submit(venue, "buy", "MSFT", 3, at=utc("2025-10-01 10:00:00") + SECOND)
    paper_venue_advance(venue_account=venue, up_to=utc("2025-10-01 11:00:00"))
    open_ = Decimal(_bar(hourly_bars, "MSFT", "2025-10-01 12:00:00")["open"])
    at = utc("2025-10-01 11:00:00") + SECOND
    high = _submit(venue, "hi", "MSFT", 1, at=at, side=OrderSide.SELL, limit=open_ + 1, tif=TimeInForce.IOC)
    ok = _submit(venue, "ok", "MSFT", 2, at=at, side=OrderSide.SELL, limit=open_, tif=TimeInForce.IOC)
    paper_venue_advance(venue_account=venue, up_to=utc("2025-10-01 12:00:00"))
    high.refresh_from_db()
    ok.refresh_from_db()
    assert (high.status, ok.status) == ("expired", "filled")
    assert VenuePosition.objects.get(account=venue, symbol="MSFT").qty == 1


@pytest.mark.parametrize(
    ("symbol", "qty", "side", "code", "status", "words"),
    [
        ("ZZZZ", 1, OrderSide.BUY, "unknown_symbol", 422, "unknown symbol"),
        ("NOBARS", 1, OrderSide.BUY, "no_price", 422, "no 1h price"),
        ("AAPL", 4000, OrderSide.BUY, "insufficient_buying_power", 403, "insufficient buying power"),
        ("AAPL", 1, OrderSide.SELL, "insufficient_qty", 403, "insufficient qty"),
        ("AAPL", 0, OrderSide.BUY, "invalid_order", 422, "qty must be"),
    ],
)
def test_definitive_rejects_store_nothing(venue, symbol, qty, side, code, status, words):
    Instrument.objects.create(symbol="NOBARS")
    with pytest.raises(OrderRejected, match=words) as info:
        _submit(venue, "r1", symbol, qty, side=side, at=utc("2025-10-01 10:00:00") + SECOND)
    assert (info.value.code, info.value.http_status) == (code, status)
    assert not VenueOrder.objects.exists()


def test_no_price_before_the_first_bar_is_known(venue):
    with pytest.raises(OrderRejected, match="no 1h price"):
        _submit(venue, "early", "AAPL", 1, at=utc("2025-10-01 10:00:00") - SECOND)


def test_open_buys_reserve_buying_power(venue):
    at = utc("2025-10-01 10:00:00") + SECOND
    _submit(venue, "a", "AAPL", 10, at=at, limit="50000")  # reserves 500,000
    _submit(venue, "b", "AAPL", 9, at=at, limit="50000")  # 450,000: still fits
    with pytest.raises(OrderRejected, match="insufficient buying power"):
        _submit(venue, "c", "AAPL", 2, at=at, limit="50000")


def test_duplicate_client_order_id(venue):
    at = utc("2025-10-01 10:00:00") + SECOND
    _submit(venue, "same", "AAPL", 1, at=at)
    with pytest.raises(DuplicateClientOrderId):
        _submit(venue, "same", "MSFT", 2, at=at)
    assert VenueOrder.objects.count() == 1


def test_positions_and_cash_are_the_sum_of_executions(venue):
    for k, symbol in enumerate(SYMBOLS):
        _submit(venue, f"b{k}", symbol, 100 + k, at=utc("2025-10-01 10:00:00") + SECOND)
    paper_venue_advance(venue_account=venue, up_to=utc("2025-10-01 11:00:00"))
    _submit(venue, "s0", "AAPL", 40, side=OrderSide.SELL, at=utc("2025-10-01 11:00:00") + SECOND)
    paper_venue_advance(venue_account=venue, up_to=utc("2025-10-02 16:00:00"))
    cash = Decimal("1000000")
    held: dict[str, Decimal] = {}
    for ex in VenueExecution.objects.filter(account=venue):
        sign = 1 if ex.side == "buy" else -1
        held[ex.symbol] = held.get(ex.symbol, Decimal(0)) + sign * ex.qty
        cash -= sign * ex.qty * ex.price + ex.fee
    venue.refresh_from_db()
    assert {p.symbol: p.qty for p in VenuePosition.objects.filter(account=venue)} == held
    assert held["AAPL"] == 60
    assert abs(venue.cash - cash) < Decimal("0.00001")


def _panel(rows: pd.DataFrame) -> Panel:
    wide = rows.assign(
        **{f: rows[f].astype(float) for f in ("open", "high", "low", "close", "volume")}
    ).pivot(index="ts", columns="symbol")
    T, N = wide.shape[0], len(SYMBOLS)
    return Panel(
        index=pd.DatetimeIndex(wide.index).tz_localize(None).to_numpy().astype("datetime64[ns]"),
        symbols=tuple(wide["close"].columns),
        **{
            f: np.ascontiguousarray(wide[f].to_numpy(np.float64))
            for f in ("open", "high", "low", "close", "volume")
        },
        member=np.ones((T, N), dtype=bool),
        sector=np.full(N, -1, dtype=np.int64),
        benchmark=np.full(T, np.nan),
        freq="1h",
    )


@pytest.mark.parametrize("participation", [0.10, 2e-5])  # 2e-5: the cap binds for every name
def test_paper_fills_agree_with_a_backtest_over_the_same_hours(hourly_bars, participation):
    """The orders a backtest sends at the close of bar k, submitted to the venue just after that
    close, fill at the same price, quantity and cost (impact included: 24 bars of history)."""
    panel = _panel(hourly_bars)
    config = BacktestConfig(integer_shares=True, governor=None, participation=participation)
    venue = venue_account_create(name="parity", cash=Decimal(1_000_000), backtest=config)
    k = 24
    targets = np.full(panel.shape, np.nan)
    targets[k] = [0.3, 0.3, 0.3]
    result = run_backtest(panel, config, targets=targets)
    stamps = pd.DatetimeIndex(panel.index).tz_localize("UTC")
    at = stamps[k] + SECOND
    for i, symbol in enumerate(panel.symbols):
        _submit(venue, f"k-{symbol}", symbol, int(result.orders[k, i]), at=at)
    paper_venue_advance(venue_account=venue, up_to=stamps[k + 1])
    fills = {r["symbol"]: r for r in result.fill_records if r["bar"] == k + 1}
    executions = {e.symbol: e for e in VenueExecution.objects.filter(account=venue)}
    assert set(executions) == set(SYMBOLS) and len(fills) == 3
    for i, symbol in enumerate(panel.symbols):
        ex, fill = executions[symbol], fills[i]
        assert float(ex.qty) == fill["shares"]
        capped = fill["shares"] < result.orders[k, i]
        assert capped == (participation < 1e-3)
        assert float(ex.price) == pytest.approx(fill["price"], abs=1e-9)
        assert fill["impact"] > 0
        assert float(ex.fee) == pytest.approx(fill["cost"], abs=1e-6)
    venue.refresh_from_db()
    assert float(venue.cash) == pytest.approx(result.cash[k + 1], abs=1e-5)


def _request(cid, symbol, qty, *, side=OrderSide.BUY, limit=None):
    return OrderRequest(
        client_order_id=cid,
        symbol=symbol,
        side=side,
        qty=Decimal(qty),
        type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
        limit_price=None if limit is None else Decimal(limit),
    )


def test_a_batch_is_accepted_and_refused_exactly_as_one_by_one(hourly_bars):
    """`paper_orders_submit` (one transaction) against `paper_order_submit` called per request on
    a twin account: the same orders accepted with the same fields, the same refusals. The batch
    holds every kind: a sell whose proceeds fund a later buy, a sell beyond what is left, a buy
    beyond the buying power left, a duplicate inside the batch and of a stored order, an unknown
    symbol, an invalid quantity."""
    from apps.paper.services import paper_orders_submit

    at = utc("2025-10-01 10:00:00") + SECOND
    twins = [
        venue_account_create(name=n, cash=Decimal("100000"), backtest=BacktestConfig(integer_shares=True))
        for n in ("one-by-one", "batch")
    ]
    for venue in twins:
        _submit(venue, "held", "AAPL", 300, at=at)
        paper_venue_advance(venue_account=venue, up_to=utc("2025-10-01 11:00:00"))
        venue.refresh_from_db()
        assert VenuePosition.objects.get(account=venue, symbol="AAPL").qty == 300
    later = utc("2025-10-01 11:00:00") + SECOND
    requests = [
        _request("s1", "AAPL", 200, side=OrderSide.SELL, limit="250"),  # frees 50,000
        _request("b1", "MSFT", 100, limit="500"),  # 50,000: needs the sell's proceeds
        _request("s2", "AAPL", 101, side=OrderSide.SELL, limit="250"),  # only 100 left to sell
        _request("b2", "NVDA", 1000, limit="190"),  # beyond what is left
        _request("b1", "NVDA", 1, limit="190"),  # duplicate inside the batch
        _request("held", "NVDA", 1, limit="190"),  # duplicate of a stored order
        _request("z1", "ZZZZ", 1),
        _request("q0", "NVDA", 0),
        _request("s3", "AAPL", 100, side=OrderSide.SELL),  # market: reserves the last close
        _request("b3", "NVDA", 10, limit="190"),
    ]
    one_by_one = []
    for request in requests:
        try:
            one_by_one.append(paper_order_submit(venue_account=twins[0], request=request, now=later))
        except (OrderRejected, DuplicateClientOrderId) as exc:
            one_by_one.append(exc)
    batch = paper_orders_submit(venue_account=twins[1], requests=requests, now=later)

    def said(outcome):
        if isinstance(outcome, OrderRejected):
            return ("rejected", outcome.code, outcome.http_status, str(outcome))
        if isinstance(outcome, DuplicateClientOrderId):
            return ("duplicate", str(outcome))
        fields = (
            "client_order_id",
            "symbol",
            "side",
            "qty",
            "type",
            "limit_price",
            "reserve_price",
            "status",
        )
        return tuple(getattr(outcome, f) for f in fields) + (outcome.expires_at,)

    assert [said(o) for o in batch] == [said(o) for o in one_by_one]
    assert [said(o)[0] for o in batch] == [
        "s1", "b1", "rejected", "rejected", "duplicate", "duplicate", "rejected", "rejected", "s3", "b3",
    ]  # fmt: skip
    assert all(o.pk for o in batch if isinstance(o, VenueOrder))
    for venue in twins:
        assert VenueOrderEvent.objects.filter(order__account=venue, event="submit").count() == 5
