"""The desk's personas (from the strategies tests), a paper account trading a paper-stage version,
a live account, and a scripted broker for the order path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest

from apps.strategies.models import Stage
from apps.trading.brokers.base import (
    BrokerAccount,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    CancelResult,
    OrderEventReport,
    OrderNotFound,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from apps.trading.services import account_version_link, trading_account_create
from apps.universes.models import Universe
from tests.apps.strategies.conftest import make_people, make_strategy, make_version

BAR = dt.datetime(2025, 10, 1, 14, 0, tzinfo=dt.UTC)
D = Decimal


@pytest.fixture
def people(db):
    return make_people()


@pytest.fixture
def paper_version(people):
    Universe.objects.get_or_create(name="sp500")
    strategy = make_strategy(people["quinn"], name="quinn-paper")
    return make_version(strategy, people["quinn"], stage=Stage.PAPER)


@pytest.fixture
def account(people, paper_version):
    acct = trading_account_create(
        by=people["ada"], name="paper-1", broker_kind="paper", endpoint="paper", starting_cash=D("1000000")
    )
    account_version_link(by=people["ada"], account=acct, version=paper_version)
    return acct


def create(account, version, **kw):
    """order_create with a demo decision: buy 100 AAPL at the last price 200."""
    from apps.trading.services import order_create

    args = {
        "account": account,
        "model_version": version,
        "bar_time": BAR,
        "symbol": "AAPL",
        "side": "buy",
        "qty": D(100),
        "type": "limit",
        "limit_price": D("200.00"),
        "marks": {"AAPL": D("200.00")},
        "day_start_equity": D("1000000"),
        "decision_price": D("200.00"),
        "config_sha256": "c" * 64,
        "data_hash": "d" * 64,
        "decision_time": BAR,
    }
    args.update(kw)
    return order_create(**args)


def broker_order(
    order, status: OrderStatus, *, filled: Decimal = Decimal(0), broker_id: str = "B-1"
) -> BrokerOrder:
    return BrokerOrder(
        broker_order_id=broker_id,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=OrderSide(order.side),
        qty=order.qty,
        filled_qty=filled,
        filled_avg_price=None,
        type=OrderType(order.type),
        time_in_force=TimeInForce(order.time_in_force),
        limit_price=order.limit_price,
        status=status,
        broker_status=status.value,
    )


def broker_fill(order, execution_id: str, qty, price="200.00", at: dt.datetime = BAR) -> BrokerFill:
    return BrokerFill(
        execution_id=execution_id,
        broker_order_id="B-1",
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=OrderSide(order.side),
        qty=D(qty),
        price=D(price),
        fee=D("0.01"),
        at=at,
    )


def report(order, event: str, status: OrderStatus, fill: BrokerFill | None = None) -> OrderEventReport:
    return OrderEventReport(event=event, order=broker_order(order, status), fill=fill, at=BAR)


class ScriptedBroker:
    """A Broker whose `submit` and `order_by_client_id` do what the test says (return or raise)."""

    name = "scripted"

    def __init__(self, *, on_submit: Callable[[OrderRequest], BrokerOrder], on_lookup=None) -> None:
        self.on_submit = on_submit
        self.on_lookup = on_lookup
        self.submitted: list[OrderRequest] = []
        self.lookups: list[str] = []

    def submit(self, request: OrderRequest) -> BrokerOrder:
        self.submitted.append(request)
        return self.on_submit(request)

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder:
        self.lookups.append(client_order_id)
        if self.on_lookup is None:
            raise OrderNotFound(client_order_id)
        return self.on_lookup(client_order_id)

    def cancel(self, broker_order_id: str) -> None:
        raise AssertionError("cancel is not part of these tests")

    def cancel_all(self) -> list[CancelResult]:
        return []

    def open_orders(self) -> list[BrokerOrder]:
        return []

    def positions(self) -> list[BrokerPosition]:
        return []

    def account(self) -> BrokerAccount:
        return BrokerAccount(currency="USD", cash=D(0), equity=D(0), buying_power=D(0))

    def fills_since(self, since: dt.datetime) -> list[BrokerFill]:
        return []
