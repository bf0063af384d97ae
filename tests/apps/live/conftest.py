"""The trading fixtures (personas incl. rita the risk officer, a paper account trading a
paper-stage version), a second risk officer for four-eyes, and helpers to hold a position."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.accounts.roles import RISK_OFFICER
from apps.trading.brokers.base import OrderStatus
from apps.trading.services import fill_record, order_submit
from tests.apps.strategies.conftest import _fast_passwords  # noqa: F401 - autouse fixture
from tests.apps.trading.conftest import BAR, account, broker_fill, create, paper_version, people  # noqa: F401

D = Decimal


@pytest.fixture
def rory(people):  # noqa: F811 - the imported fixture
    """A second risk officer (four-eyes)."""
    user = get_user_model().objects.create_user("rory", password="rory-pw")
    user.groups.add(Group.objects.get(name=RISK_OFFICER))
    return user


def hold(acct, version, broker, symbol: str, qty, *, bar=BAR, price="200.00"):
    """Buy `qty` of `symbol` through the order services, record its fill in our book and give the
    in-memory broker the same position."""
    order = create(
        acct,
        version,
        symbol=symbol,
        qty=D(qty),
        bar_time=bar,
        marks={symbol: D(price)},
        limit_price=D(price),
        decision_price=D(price),
    )
    order_submit(order=order, broker=broker)
    sent = broker.orders[order.client_order_id]
    broker.rest(
        dataclasses.replace(sent, status=OrderStatus.FILLED, filled_qty=D(qty), broker_status="filled")
    )
    fill_record(
        order=order, fill=broker_fill(order, f"E-{symbol}-{bar:%H%M}", qty, price=price), source="test"
    )
    broker.held[symbol] = broker.held.get(symbol, D(0)) + D(qty)
    return order
