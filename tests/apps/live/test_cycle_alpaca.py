"""The cycle of an Alpaca account against the local fake Alpaca (real HTTP in Alpaca's formats):
the kernel's orders go out as protective limit orders with the deterministic client order ids,
fills executed at the broker between two cycles are recovered by the next cycle's reconciliation
(Alpaca's stream replays nothing), and the books then agree with the broker's positions."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from apps.live.cycle.run import cycle_run
from apps.live.models import Reconciliation
from apps.live.selectors import killswitch_effective
from apps.strategies.models import ModelVersion, Stage
from apps.strategies.services import model_version_create, strategy_create
from apps.trading.brokers.alpaca import AlpacaBroker, RatePacer
from apps.trading.models import Fill, Order
from apps.trading.selectors import account_book
from apps.trading.services import account_version_link, trading_account_create
from apps.universes.models import Membership, Universe
from tests.support.fake_alpaca import fake_alpaca, fake_credentials  # noqa: F401 - the fixture

from .cycle_support import CONFIG, SYMBOLS, import_fixture

pytestmark = pytest.mark.django_db(transaction=True)

WARMUP = 12


@pytest.fixture
def alpaca_desk(people, tmp_path, fake_alpaca):  # noqa: F811
    import datetime as dt

    stamps = import_fixture(tmp_path, days=4)
    universe, _ = Universe.objects.get_or_create(name="sp500")
    for symbol in SYMBOLS:
        Membership.objects.create(universe=universe, symbol=symbol, start_date=dt.date(2000, 1, 3))
    strategy = strategy_create(owner=people["quinn"], name="alpaca-momentum", config=CONFIG)
    version = model_version_create(
        strategy=strategy, created_by=people["quinn"], artifact_bytes=None, artifact_name="",
        training_window=None, data_hash="d" * 64, metrics={}, config=strategy.config,
    )  # fmt: skip
    ModelVersion.objects.filter(pk=version.pk).update(stage=Stage.PAPER)
    account = trading_account_create(
        by=people["ada"],
        name="alpaca-paper",
        broker_kind="alpaca",
        endpoint="paper",
        starting_cash=Decimal("1000000"),
    )
    account_version_link(by=people["ada"], account=account, version=ModelVersion.objects.get(pk=version.pk))
    fake_alpaca.cash = Decimal("1000000")
    fake_alpaca.prices = {s: Decimal("100") for s in SYMBOLS}
    broker = AlpacaBroker(
        credentials=fake_credentials(), base_url=fake_alpaca.base_url, pacer=RatePacer(10_000)
    )
    yield account, stamps, broker
    broker.close()


def _open(bar: pd.Timestamp, symbol: str) -> str:
    from apps.marketdata.models import Bar

    return str(Bar.objects.get(instrument__symbol=symbol, frequency="1h", ts=bar).open)


def test_orders_reach_alpaca_and_the_next_cycle_recovers_the_fills(alpaca_desk, fake_alpaca):  # noqa: F811
    account, stamps, broker = alpaca_desk
    first = cycle_run(account=account, bar_time=stamps[WARMUP], trigger="beat", broker=broker)
    assert first.status == "succeeded", (first.reason, first.error)
    sent = list(Order.objects.filter(cycle=first))
    # Alpaca answers pending_new: the broker has the order and has not acknowledged it yet.
    assert sent and {o.status for o in sent} <= {"submitted", "accepted"}
    assert all(o.broker_order_id for o in sent)
    posted = {o["client_order_id"]: o for o in fake_alpaca.orders.values()}
    assert set(posted) == {o.client_order_id for o in sent}
    assert all(p["type"] == "limit" and p["time_in_force"] == "ioc" for p in posted.values())
    # The broker fills them at the next bar's open while the desk is not listening.
    for order in sent:
        fake_alpaca.fill(order.broker_order_id, str(order.qty), _open(stamps[WARMUP + 1], order.symbol))
    assert not Fill.objects.exists()
    second = cycle_run(account=account, bar_time=stamps[WARMUP + 1], trigger="beat", broker=broker)
    assert second.status == "succeeded", (second.reason, second.error)
    rec = Reconciliation.objects.get(cycle=second)
    assert rec.ok and rec.recovered_fills == len(sent)
    assert Fill.objects.count() == len(sent)
    book = account_book(account=account)
    assert {s: p.qty for s, p in book.positions.items() if p.qty} == {o.symbol: o.qty for o in sent}
    assert killswitch_effective(account=account).state == "active"
    assert all(f.shortfall_decision_bps is not None for f in Fill.objects.all())
