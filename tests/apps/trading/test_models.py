"""What the database guarantees on its own: a version link's endpoint equals its account's (the
composite foreign key on PostgreSQL, triggers on SQLite), an account with links keeps its
endpoint, the paper broker has no live endpoint, client order ids are unique, fills are unique per
account and execution id, and fills / events are append-only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.core.statemachine import AppendOnlyError
from apps.trading.models import AccountModelVersion, Fill, Order, OrderEvent, TradingAccount

from .conftest import BAR, broker_fill
from .test_fills import _order

pytestmark = pytest.mark.django_db


def _raises_integrity(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


def test_link_endpoint_must_equal_the_accounts(account, paper_version, people):
    link = AccountModelVersion.objects.get(account=account)
    assert link.endpoint == account.endpoint == "paper"
    _raises_integrity(lambda: AccountModelVersion.objects.filter(pk=link.pk).update(endpoint="live"))
    live = TradingAccount.objects.create(
        name="live-1",
        broker_kind="alpaca",
        endpoint="live",
        starting_cash=Decimal(1),
        created_by=people["ada"],
    )
    _raises_integrity(
        lambda: AccountModelVersion.objects.create(
            account=live, model_version=paper_version, endpoint="paper", linked_by=people["ada"]
        )
    )


def test_account_with_links_keeps_its_endpoint(account):
    _raises_integrity(
        lambda: TradingAccount.objects.filter(pk=account.pk).update(broker_kind="alpaca", endpoint="live")
    )


def test_paper_broker_has_no_live_endpoint(people):
    _raises_integrity(
        lambda: TradingAccount.objects.create(
            name="x", broker_kind="paper", endpoint="live", starting_cash=Decimal(1), created_by=people["ada"]
        )
    )


def test_one_order_per_client_order_id(account):
    order = _order(account)
    _raises_integrity(
        lambda: Order.objects.create(
            account=account,
            bar_time=BAR.replace(hour=15),
            symbol="MSFT",
            side="buy",
            qty=Decimal(1),
            requested_type="limit",
            type="limit",
            limit_price=Decimal(1),
            client_order_id=order.client_order_id,
        )
    )


def test_fill_unique_per_account_and_execution_id(account):
    order = _order(account)
    f = broker_fill(order, "E-1", 10)
    kw = {
        "order": order,
        "account": account,
        "symbol": "AAPL",
        "side": "buy",
        "qty": f.qty,
        "price": f.price,
        "at": f.at,
    }
    Fill.objects.create(execution_id="E-1", **kw)
    _raises_integrity(lambda: Fill.objects.create(execution_id="E-1", **kw))


def test_fills_and_events_are_append_only(account):
    order = _order(account)
    fill = Fill.objects.create(
        order=order, account=account, execution_id="E-1", symbol="AAPL", side="buy", qty=1, price=1, at=BAR
    )
    event = OrderEvent.objects.filter(order=order).first()
    for row in (fill, event):
        with pytest.raises(AppendOnlyError):
            row.save()
        with pytest.raises(AppendOnlyError):
            row.delete()
