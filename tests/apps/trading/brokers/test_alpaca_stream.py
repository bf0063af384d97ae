"""The trade_updates client against the fake Alpaca's real websocket: authentication, binary and
text frames, faithful pass-through of duplicate / out-of-order updates, reconnect with backoff
after a dropped connection, and the on_reconnect hook that lets the caller recover over REST
what the stream never replays."""

import datetime as dt
import queue
import random
import threading
import time
from decimal import Decimal

import pytest

from apps.trading.brokers.alpaca import (
    AlpacaCredentials,
    Backoff,
    StreamUnauthorized,
    TradeUpdatesStream,
)
from apps.trading.brokers.base import OrderRequest, OrderSide
from tests.support.fake_alpaca import fake_credentials

pytestmark = pytest.mark.django_db(databases=[])


class Running:
    """A stream in a thread, its updates in a queue."""

    def __init__(self, fake, *, credentials=None, on_reconnect=None):
        self.updates: queue.Queue = queue.Queue()
        self.reconnects = 0
        self.disconnects: list[str] = []
        self.error: list[BaseException] = []
        self._extra = on_reconnect

        def reconnected():
            self.reconnects += 1
            if self._extra:
                self._extra()

        self.stream = TradeUpdatesStream(
            credentials=credentials or fake_credentials(),
            url=fake.stream_url,
            on_update=self.updates.put,
            on_reconnect=reconnected,
            on_disconnect=self.disconnects.append,
            backoff=Backoff(base_s=0.05, cap_s=0.2),
        )
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.stream.run()
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            self.error.append(exc)

    def take(self, n, timeout=5.0):
        return [self.updates.get(timeout=timeout) for _ in range(n)]

    def stop(self):
        self.stream.stop()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


def eventually(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def stop_streams(monkeypatch):
    """Every stream a test starts is stopped at teardown, even when the test failed."""
    started: list[Running] = []
    original = Running.__init__

    def tracked(self, *args, **kwargs):
        original(self, *args, **kwargs)
        started.append(self)

    monkeypatch.setattr(Running, "__init__", tracked)
    yield
    for running in started:
        running.stream.stop()
        running.thread.join(timeout=5)


def submit(broker, cid="c1", qty="10"):
    return broker.submit(OrderRequest(cid, "AAPL", OrderSide.BUY, Decimal(qty), limit_price=Decimal("190")))


@pytest.mark.parametrize("binary", [True, False])
def test_receives_fills_in_binary_and_text_frames(fake_alpaca, broker, binary):
    fake_alpaca.binary_frames = binary
    running = Running(fake_alpaca)
    fake_alpaca.wait_listening(1)
    order = submit(broker)
    sent = fake_alpaca.fill(order.broker_order_id, "4", "189.5")
    [report] = running.take(1)
    assert report.event == "partial_fill"
    assert report.fill.execution_id == sent["execution_id"]
    assert (report.fill.qty, report.fill.price) == (Decimal("4"), Decimal("189.5"))
    assert report.order.client_order_id == "c1"
    eventually(lambda: running.reconnects == 1)  # called after the first subscription too
    running.stop()


def test_duplicate_and_out_of_order_updates_pass_through_as_sent(fake_alpaca, broker):
    running = Running(fake_alpaca)
    fake_alpaca.wait_listening(1)
    order = submit(broker)
    first = fake_alpaca.fill(order.broker_order_id, "4", "189.5")
    running.take(1)
    second = fake_alpaca.fill(order.broker_order_id, "6", "189.6")
    running.take(1)
    # Replay: the final fill again, then the earlier partial fill (late), then the final once more.
    for update in (second, first, second):
        fake_alpaca.push(update)
    got = running.take(3)
    assert [r.fill.execution_id for r in got] == [
        second["execution_id"],
        first["execution_id"],
        second["execution_id"],
    ]
    assert [r.event for r in got] == ["fill", "partial_fill", "fill"]
    running.stop()


def test_reconnects_after_a_drop_and_the_hook_recovers_the_missed_fill(fake_alpaca, broker):
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    recovered: queue.Queue = queue.Queue()
    running = Running(fake_alpaca, on_reconnect=lambda: recovered.put(broker.fills_since(since)))
    fake_alpaca.wait_listening(1)
    assert recovered.get(timeout=5) == []
    order = submit(broker)
    fake_alpaca.stream_down = True
    fake_alpaca.drop_stream()
    missed = fake_alpaca.fill(order.broker_order_id, "10", "189.7")  # nobody listening: lost
    fake_alpaca.stream_down = False
    fake_alpaca.wait_listening(2)
    after_reconnect = recovered.get(timeout=5)
    assert running.disconnects and running.reconnects == 2  # the hook ran: counted before it
    assert running.updates.empty()  # the stream replays nothing ...
    # ... the REST read in on_reconnect finds it, under the same execution id.
    assert missed["execution_id"] in {f.execution_id for f in after_reconnect}
    order2 = submit(broker, cid="c2", qty="1")  # the reconnected stream delivers new events again
    fake_alpaca.fill(order2.broker_order_id, "1", "190")
    [report] = running.take(1)
    assert report.order.client_order_id == "c2"
    running.stop()


def test_repeated_drops_back_off(fake_alpaca):
    running = Running(fake_alpaca)
    for n in range(1, 4):
        fake_alpaca.wait_listening(n)
        fake_alpaca.drop_stream()
    fake_alpaca.wait_listening(4)
    eventually(lambda: running.reconnects == 4)
    assert len(running.disconnects) == 3
    running.stop()


def test_refused_keys_stop_the_stream(fake_alpaca):
    running = Running(fake_alpaca, credentials=AlpacaCredentials(key_id="PKWRONG", secret_key="nope"))
    running.thread.join(timeout=5)
    assert isinstance(running.error[0], StreamUnauthorized)
    assert running.reconnects == 0


def test_an_update_that_does_not_parse_is_logged_and_skipped(fake_alpaca, broker, caplog):
    running = Running(fake_alpaca)
    fake_alpaca.wait_listening(1)
    order = submit(broker)
    bad = {"event": "new", "order": {**fake_alpaca.orders[order.broker_order_id], "status": "mystery"},
           "timestamp": "2026-12-01T15:00:00Z"}  # fmt: skip
    fake_alpaca.push(bad)
    fake_alpaca.fill(order.broker_order_id, "1", "190")
    [report] = running.take(1)
    assert report.event == "partial_fill"
    assert "does not parse" in caplog.text and order.broker_order_id in caplog.text
    running.stop()


def test_backoff_is_exponential_with_full_jitter_and_capped():
    backoff = Backoff(base_s=0.5, cap_s=30, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(10)]
    ceilings = [min(30, 0.5 * 2**n) for n in range(10)]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[6:]) > 0.5 * 2**3  # grows past the early ceilings
    backoff.reset()
    assert backoff.next_delay() <= 0.5
