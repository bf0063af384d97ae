"""AlpacaBroker against the local fake Alpaca (real HTTP on 127.0.0.1): every endpoint of the
broker interface, Alpaca's documented error answers, and the error contract."""

import datetime as dt
import time
from decimal import Decimal

import httpx
import pytest

from apps.trading.brokers.alpaca import AlpacaBroker, AlpacaHttp, RatePacer, TradeUpdatesStream
from apps.trading.brokers.base import (
    Broker,
    CancelRejected,
    DuplicateClientOrderId,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    OutcomeUnknown,
    RateLimited,
)
from tests.support.fake_alpaca import fake_credentials

pytestmark = pytest.mark.django_db(databases=[])  # no database: the adapter is framework-free


def buy(cid="acct1-20261201T1500-AAPL-buy", qty="10", limit="190.50", symbol="AAPL"):
    return OrderRequest(
        client_order_id=cid,
        symbol=symbol,
        side=OrderSide.BUY,
        qty=Decimal(qty),
        type=OrderType.LIMIT,
        limit_price=Decimal(limit),
    )


def test_is_a_broker(broker):
    assert isinstance(broker, Broker)


def test_submit_sends_decimal_strings_and_parses_the_order(broker, fake_alpaca):
    order = broker.submit(buy(qty="10.5", limit="190.123"))
    assert order.client_order_id == "acct1-20261201T1500-AAPL-buy"
    assert order.qty == Decimal("10.5") and isinstance(order.qty, Decimal)
    assert order.limit_price == Decimal("190.123")
    assert order.status is OrderStatus.SUBMITTED and order.broker_status == "accepted"
    assert order.filled_qty == 0 and order.filled_avg_price is None
    sent = fake_alpaca.orders[order.broker_order_id]
    assert (sent["qty"], sent["limit_price"], sent["time_in_force"]) == ("10.5", "190.123", "day")


def test_duplicate_client_order_id_raises_duplicate_and_lookup_finds_the_first(broker, fake_alpaca):
    first = broker.submit(buy())
    with pytest.raises(DuplicateClientOrderId):
        broker.submit(buy())
    assert broker.order_by_client_id(first.client_order_id).broker_order_id == first.broker_order_id
    assert len(fake_alpaca.orders) == 1


def test_duplicate_refused_even_after_cancel(broker):
    first = broker.submit(buy())
    broker.cancel(first.broker_order_id)
    with pytest.raises(DuplicateClientOrderId):
        broker.submit(buy())


def test_insufficient_buying_power_is_a_definitive_403_rejection(broker, fake_alpaca):
    with pytest.raises(OrderRejected) as info:
        broker.submit(buy(qty="1000", limit="200"))  # 200,000 > 100,000 cash
    assert info.value.http_status == 403
    assert info.value.code == "40310000"
    assert "insufficient buying power" in str(info.value)
    assert not fake_alpaca.orders


def test_invalid_parameters_are_a_definitive_422_rejection(broker):
    with pytest.raises(OrderRejected) as info:
        broker.submit(buy(symbol="NOPE"))
    assert info.value.http_status == 422 and not isinstance(info.value, DuplicateClientOrderId)


def test_selling_more_than_held_is_a_403_rejection(broker):
    with pytest.raises(OrderRejected) as info:
        broker.submit(
            OrderRequest("c-sell", "AAPL", OrderSide.SELL, Decimal("5"), limit_price=Decimal("180"))
        )
    assert info.value.http_status == 403 and "insufficient qty" in str(info.value)


def test_client_order_id_over_48_characters_is_refused_before_sending(broker, fake_alpaca):
    with pytest.raises(ValueError, match="48"):
        broker.submit(buy(cid="x" * 49))
    assert not fake_alpaca.requests


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_submit_is_outcome_unknown_not_rejected(broker, fake_alpaca, status):
    fake_alpaca.fault("POST", "/v2/orders", status=status, body={"message": "upstream"})
    with pytest.raises(OutcomeUnknown) as info:
        broker.submit(buy())
    assert not isinstance(info.value, OrderRejected)


def test_timeout_is_outcome_unknown_and_resolved_by_client_order_id(fake_alpaca):
    http = AlpacaHttp(
        base_url=fake_alpaca.base_url,
        credentials=fake_credentials(),
        pacer=RatePacer(10_000),
        timeout=httpx.Timeout(0.3),
    )
    broker = AlpacaBroker(credentials=fake_credentials(), base_url=fake_alpaca.base_url, http=http)
    fake_alpaca.fault("POST", "/v2/orders", delay_s=1.0)  # the order lands, the answer is late
    with pytest.raises(OutcomeUnknown, match="no answer in time"):
        broker.submit(buy())
    landed = broker.order_by_client_id("acct1-20261201T1500-AAPL-buy")
    assert landed.status is OrderStatus.SUBMITTED
    # A resubmission with the same deterministic id cannot create a second order.
    with pytest.raises(DuplicateClientOrderId):
        broker.submit(buy())
    assert len(fake_alpaca.orders) == 1
    broker.close()


def test_dropped_connection_is_outcome_unknown(broker, fake_alpaca):
    fake_alpaca.fault("POST", "/v2/orders", drop=True)
    with pytest.raises(OutcomeUnknown, match="connection failed or dropped"):
        broker.submit(buy())
    assert broker.order_by_client_id("acct1-20261201T1500-AAPL-buy").symbol == "AAPL"


def test_connection_refused_is_outcome_unknown():
    broker = AlpacaBroker(credentials=fake_credentials(), base_url="http://127.0.0.1:9", pacer=RatePacer(10))
    with pytest.raises(OutcomeUnknown):
        broker.account()


def test_429_raises_rate_limited_with_retry_after_from_the_reset_header(broker, fake_alpaca):
    fake_alpaca.rate_limit = 2
    fake_alpaca.request_times.extend([time.time()] * 2)  # another process spent the budget
    with pytest.raises(RateLimited) as info:
        broker.submit(buy())
    assert isinstance(info.value, OutcomeUnknown)
    assert 55 <= info.value.retry_after_s <= 61
    assert not fake_alpaca.orders


def test_pacing_keeps_the_client_under_the_limit(fake_alpaca):
    """Server: 3 requests per 1 s window. The client paces itself from the server's headers
    (Remaining 0 -> wait for Reset) and never meets a 429."""
    fake_alpaca.rate_limit, fake_alpaca.rate_window_s = 3, 1.0
    broker = AlpacaBroker(
        credentials=fake_credentials(), base_url=fake_alpaca.base_url, pacer=RatePacer(10_000)
    )
    started = time.monotonic()
    for _ in range(7):
        broker.account()
    assert time.monotonic() - started >= 1.0
    broker.close()


def test_pacer_own_window_without_server_headers():
    now = [1000.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    pacer = RatePacer(3, window_s=60, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        assert pacer.acquire() == 0
    now[0] += 10
    assert pacer.acquire() == 50  # the oldest of the three leaves the window at 1060
    assert slept == [50]


def test_retry_after_header_wins_when_sent(broker, fake_alpaca):
    fake_alpaca.fault("GET", "/v2/account", status=429, body={"message": "rate limit exceeded"},
                      headers={"Retry-After": "7"})  # fmt: skip
    with pytest.raises(RateLimited) as info:
        broker.account()
    assert info.value.retry_after_s == 7


def test_order_by_client_id_unknown_is_order_not_found(broker):
    with pytest.raises(OrderNotFound):
        broker.order_by_client_id("never-sent")


def test_cancel_then_cancel_again_is_cancel_rejected(broker, fake_alpaca):
    order = broker.submit(buy())
    broker.cancel(order.broker_order_id)
    assert broker.order_by_client_id(order.client_order_id).status is OrderStatus.CANCELLED
    with pytest.raises(CancelRejected, match="not cancelable"):
        broker.cancel(order.broker_order_id)
    with pytest.raises(OrderNotFound):
        broker.cancel("00000000-0000-0000-0000-000000000000")


def test_cancel_all_parses_the_207_multi_status(broker, fake_alpaca):
    a = broker.submit(buy(cid="a"))
    b = broker.submit(buy(cid="b", qty="1"))
    c = broker.submit(buy(cid="c", qty="1"))
    fake_alpaca.fill(c.broker_order_id, "1", "190")  # filled: not part of cancel-all
    fake_alpaca.cancel_failures[b.broker_order_id] = (500, "internal error")
    results = {r.broker_order_id: r for r in broker.cancel_all()}
    assert set(results) == {a.broker_order_id, b.broker_order_id}
    assert results[a.broker_order_id].ok
    assert not results[b.broker_order_id].ok and "500" in results[b.broker_order_id].detail
    assert broker.order_by_client_id("a").status is OrderStatus.PENDING_CANCEL


def test_open_orders_pages_past_500(broker, fake_alpaca):
    fake_alpaca.cash = Decimal("10") ** 9
    fake_alpaca.rate_limit = 10_000  # 520 submissions: not a pacing test
    base = dt.datetime(2026, 12, 1, 15, tzinfo=dt.UTC)
    for i in range(520):
        order = broker.submit(buy(cid=f"o{i}", qty="1"))
        # distinct submission times, as Alpaca's would be
        fake_alpaca.orders[order.broker_order_id]["submitted_at"] = (
            base + dt.timedelta(milliseconds=i)
        ).isoformat()
    fake_alpaca.set_status(broker.order_by_client_id("o3").broker_order_id, "canceled")
    orders = broker.open_orders()
    assert len(orders) == 519 and len({o.broker_order_id for o in orders}) == 519
    assert "o3" not in {o.client_order_id for o in orders}


def test_positions_account_and_fills(broker, fake_alpaca):
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    order = broker.submit(buy(qty="10", limit="190"))
    fake_alpaca.fill(order.broker_order_id, "4", "189.50")
    fake_alpaca.fill(order.broker_order_id, "6", "189.75")
    [position] = broker.positions()
    assert (position.symbol, position.qty, position.avg_entry_price) == (
        "AAPL",
        Decimal("10"),
        Decimal("189.65"),
    )
    account = broker.account()
    assert account.cash == Decimal("100000") - Decimal("4") * Decimal("189.50") - Decimal("6") * Decimal(
        "189.75"
    )
    assert account.currency == "USD" and not account.trading_blocked
    fills = broker.fills_since(since)
    assert [f.qty for f in fills] == [Decimal("4"), Decimal("6")]
    assert all(f.client_order_id == order.client_order_id for f in fills)
    assert fills[0].execution_id == fake_alpaca.activities[0]["id"].split("::")[1]
    assert broker.order_by_client_id(order.client_order_id).status is OrderStatus.FILLED


def test_fills_since_pages_with_page_token_and_looks_up_client_ids_once(fake_alpaca):
    fake_alpaca.cash = Decimal("10") ** 9
    writer = AlpacaBroker(
        credentials=fake_credentials(), base_url=fake_alpaca.base_url, pacer=RatePacer(10_000)
    )
    order = writer.submit(buy(qty="250", limit="190"))
    start = dt.datetime(2026, 12, 1, 15, tzinfo=dt.UTC)
    for i in range(250):
        fake_alpaca.fill(order.broker_order_id, "1", "190", at=start + dt.timedelta(seconds=i))
    reader = AlpacaBroker(
        credentials=fake_credentials(), base_url=fake_alpaca.base_url, pacer=RatePacer(10_000)
    )
    fake_alpaca.requests.clear()
    fills = reader.fills_since(start - dt.timedelta(seconds=1))
    assert len(fills) == 250 and len({f.execution_id for f in fills}) == 250
    assert [f.at for f in fills] == sorted(f.at for f in fills)
    paths = [p for _, p, _ in fake_alpaca.requests]
    assert paths.count("/v2/account/activities/FILL") == 3  # 100 + 100 + 50
    assert paths.count(f"/v2/orders/{order.broker_order_id}") == 1
    assert {f.client_order_id for f in fills} == {order.client_order_id}
    writer.close()
    reader.close()


def test_wrong_keys_are_refused_not_unknown(fake_alpaca):
    from apps.trading.brokers.alpaca import AlpacaCredentials, RequestRefused

    broker = AlpacaBroker(
        credentials=AlpacaCredentials(key_id="PKWRONG", secret_key="nope"), base_url=fake_alpaca.base_url
    )
    with pytest.raises(RequestRefused) as info:
        broker.account()
    assert info.value.http_status == 401
    with pytest.raises(OrderRejected):  # on submit, a 4xx is a definitive rejection
        broker.submit(buy())


def test_paper_or_live_endpoint():
    from apps.trading.brokers.alpaca.rest import LIVE_TRADING_URL, PAPER_TRADING_URL
    from apps.trading.brokers.alpaca.stream import LIVE_STREAM_URL, PAPER_STREAM_URL

    creds = fake_credentials()
    assert AlpacaBroker(credentials=creds).base_url == PAPER_TRADING_URL == "https://paper-api.alpaca.markets"
    assert (
        AlpacaBroker(credentials=creds, paper=False).base_url
        == LIVE_TRADING_URL
        == "https://api.alpaca.markets"
    )
    stream = TradeUpdatesStream(credentials=creds, paper=False, on_update=print, on_reconnect=print)
    assert (stream.url, PAPER_STREAM_URL) == (LIVE_STREAM_URL, "wss://paper-api.alpaca.markets/stream")


def test_pacer_waits_for_the_servers_reset_when_nothing_remains():
    now = [1000.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    pacer = RatePacer(100, clock=lambda: now[0], sleep=sleep)
    pacer.observe(httpx.Headers({"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "1030"}))
    assert pacer.acquire() == 30 and slept == [30]
    pacer.observe(httpx.Headers({"X-Ratelimit-Remaining": "5", "X-Ratelimit-Reset": "1090"}))
    assert pacer.acquire() == 0
