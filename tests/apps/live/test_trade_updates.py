"""The trade_updates runner of an Alpaca account against the fake Alpaca (real HTTP and websocket
on 127.0.0.1): updates applied through the order services, an unknown order's update skipped, a
dropped connection alerted, the fill sent while nobody listened recovered by the reconciliation
that follows the reconnect; and `manage.py trade_updates`'s refusals."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from apps.alerts.models import Alert, AlertKind
from apps.live.models import Reconciliation
from apps.live.services import broker_alert_key
from apps.live.stream import TradeUpdatesRunner
from apps.trading.brokers.alpaca import AlpacaBroker, Backoff, RatePacer
from apps.trading.brokers.base import OrderRequest, OrderSide, OrderStatus
from apps.trading.models import Fill
from apps.trading.services import account_version_link, order_submit, trading_account_create
from tests.support.fake_alpaca import KEY_ID, SECRET_KEY, FakeAlpaca, fake_credentials

from .conftest import create

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)
FAKES: list[FakeAlpaca] = []  # the fake the broker factory below points at


def alpaca_for(account):
    """A TRADING_BROKER_FACTORY for these tests: REST against the running fake."""
    return AlpacaBroker(credentials=fake_credentials(), base_url=FAKES[-1].base_url, pacer=RatePacer(10_000))


@pytest.fixture
def fake(settings):
    fake = FakeAlpaca()
    FAKES.append(fake)
    settings.TRADING_BROKER_FACTORY = f"{__name__}.alpaca_for"
    yield fake
    FAKES.remove(fake)
    fake.close()


@pytest.fixture
def alpaca_account(people, paper_version):
    acct = trading_account_create(
        by=people["ada"], name="alpaca-1", broker_kind="alpaca", endpoint="paper", starting_cash=D(100_000)
    )
    account_version_link(by=people["ada"], account=acct, version=paper_version)
    return acct


def eventually(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_drop_reconnect_reconcile_recovers_the_missed_fill(fake, alpaca_account, paper_version):
    broker = alpaca_for(alpaca_account)
    order = create(
        alpaca_account,
        paper_version,
        symbol="AAPL",
        qty=D(10),
        limit_price=D(190),
        marks={"AAPL": D(190)},
        day_start_equity=D(100_000),
    )
    order = order_submit(order=order, broker=broker)
    assert order.broker_order_id  # at the broker (its answer: pending_new, i.e. still submitted)
    runner = TradeUpdatesRunner(
        account=alpaca_account,
        broker=broker,
        credentials=fake_credentials(),
        url=fake.stream_url,
        backoff=Backoff(base_s=0.05, cap_s=0.2),
    )
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        fake.wait_listening(1)
        eventually(lambda: len(runner.reconciliations) == 1)  # after the first connect too
        assert runner.reconciliations[0].ok

        fake.fill(order.broker_order_id, "4", "189.50")  # streamed
        eventually(lambda: Fill.objects.filter(order=order).count() == 1)
        by_hand = broker.submit(OrderRequest("by-hand-1", "MSFT", OrderSide.BUY, D(1), limit_price=D(400)))
        fake.set_status(by_hand.broker_order_id, "canceled")  # someone else's order: skipped
        eventually(lambda: runner.skipped == 1)

        fake.stream_down = True
        fake.drop_stream()
        eventually(lambda: Alert.objects.filter(kind=AlertKind.BROKER_DISCONNECTED).exists())
        missed = fake.fill(order.broker_order_id, "6", "189.60")  # nobody listening: lost
        fake.stream_down = False
        fake.wait_listening(2)
        eventually(lambda: len(runner.reconciliations) == 2)
    finally:
        runner.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()

    row = runner.reconciliations[1]
    assert (row.ok, row.trigger, row.recovered_fills) == (True, "reconnect", 1), row.breaks
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED
    assert missed["execution_id"] in set(Fill.objects.values_list("execution_id", flat=True))
    assert Fill.objects.filter(order=order).count() == 2
    alert = Alert.objects.get(kind=AlertKind.BROKER_DISCONNECTED)
    assert alert.dedup_key == broker_alert_key(alpaca_account.pk)
    assert alert.count >= 2 and "reconnected" in alert.message  # one raise per failed attempt, then the bump
    assert Reconciliation.objects.filter(account=alpaca_account).count() == 2
    assert (runner.applied, runner.skipped) == (1, 1)


def test_the_command_refuses_what_it_cannot_run(people, account, alpaca_account, fake, monkeypatch):
    with pytest.raises(CommandError, match="no trading account named 'nope'"):
        call_command("trade_updates", "--account", "nope")
    with pytest.raises(CommandError, match="is a paper account"):
        call_command("trade_updates", "--account", account.name)
    for name in ("ALPACA_KEY_ID", "ALPACA_SECRET_KEY", "ALPACA_SECRETS_FILE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(CommandError, match="ALPACA_KEY_ID"):
        call_command("trade_updates", "--account", alpaca_account.name)
    # wrong keys: the stream refuses them and the command stops (no retry loop)
    monkeypatch.setenv("ALPACA_KEY_ID", KEY_ID + "X")
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET_KEY)
    with pytest.raises(CommandError, match="authentication refused"):
        call_command("trade_updates", "--account", alpaca_account.name, "--url", fake.stream_url)
