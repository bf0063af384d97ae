"""STOP inside the submit path: orders_create refuses new orders of a stopped account (or desk),
order_submit refuses to send an order created before the STOP, open orders stay; while stopped /
flattening only FLAT's own risk-reducing sells pass; halted and flat let nothing through."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.live.machine import FLAT_SOURCE, State
from apps.live.models import KillSwitch
from apps.live.selectors import killswitch_effective
from apps.live.services import killswitch_stop, killswitch_unlock
from apps.trading.services import order_submit

from .brokers import InMemoryBroker
from .conftest import BAR, create, hold

D = Decimal

# order_submit runs outside any transaction (its submit transition commits before the broker call).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("desk", [False, True], ids=["account", "desk"])
def test_stopped_account_creates_only_refusals(people, account, paper_version, desk):
    killswitch_stop(by=people["alice"], account=None if desk else account, reason="runaway")
    order = create(account, paper_version)
    assert order.status == "rejected" and order.reason_code == "kill_switch"
    assert ("desk" if desk else "account") in order.reason_detail


@pytest.mark.parametrize("desk", [False, True], ids=["account", "desk"])
def test_order_created_before_stop_is_not_sent_after_it(people, account, paper_version, desk):
    order = create(account, paper_version)
    assert order.status == "pending_new"
    killswitch_stop(by=people["alice"], account=None if desk else account, reason="runaway")
    broker = InMemoryBroker()
    order = order_submit(order=order, broker=broker)
    assert broker.submitted == []
    assert order.status == "rejected" and order.reason_code == "kill_switch"
    assert order.events.filter(event="deny", source="killswitch").exists()


def test_open_orders_stay_on_stop(people, account, paper_version):
    broker = InMemoryBroker()
    order = order_submit(order=create(account, paper_version), broker=broker)
    assert order.status == "accepted"
    killswitch_stop(by=people["alice"], account=account, reason="runaway")
    order.refresh_from_db()
    assert order.status == "accepted" and broker.cancel_all_calls == 0


def _flat_sell(account, **kw):
    args = {
        "side": "sell",
        "qty": D(10),
        "bar_time": BAR + dt.timedelta(hours=1),
        "source": FLAT_SOURCE,
    }
    return create(account, None, **{**args, **kw})


@pytest.mark.parametrize("state", [State.STOPPED, State.FLATTENING])
def test_while_stopped_only_flat_sells_pass(people, account, paper_version, state):
    broker = InMemoryBroker()
    hold(account, paper_version, broker, "AAPL", 100)
    KillSwitch.objects.update_or_create(account=account, defaults={"state": state})
    # a model's sell, a buy with FLAT's source, and a sell from another source are all refused
    assert create(
        account, paper_version, side="sell", qty=D(10), bar_time=BAR + dt.timedelta(hours=2)
    ).status == ("rejected")
    assert _flat_sell(account, side="buy", bar_time=BAR + dt.timedelta(hours=3)).reason_code == "kill_switch"
    assert (
        _flat_sell(account, source="cycle", bar_time=BAR + dt.timedelta(hours=4)).reason_code == "kill_switch"
    )
    sell = _flat_sell(account)
    assert sell.status == "pending_new"
    assert order_submit(order=sell, broker=broker).status == "accepted"


@pytest.mark.parametrize("state", [State.HALTED, State.FLAT])
def test_halted_and_flat_refuse_even_flat_sells(people, account, paper_version, state):
    broker = InMemoryBroker()
    hold(account, paper_version, broker, "AAPL", 100)
    sell = _flat_sell(account)
    KillSwitch.objects.update_or_create(account=account, defaults={"state": state})
    assert order_submit(order=sell, broker=broker).reason_code == "kill_switch"
    assert [r.side for _t, r in broker.submitted] == ["buy"]


def test_unlock_lets_orders_through_again(people, account, paper_version, settings):
    settings.KILLSWITCH_UNLOCK_FOUR_EYES = False
    killswitch_stop(by=people["alice"], account=account, reason="runaway")
    assert killswitch_effective(account=account).state == State.STOPPED
    killswitch_unlock(by=people["rita"], account=account, reason="fixed")
    assert create(account, paper_version).status == "pending_new"


def test_effective_state_combines_account_and_desk(people, account):
    assert killswitch_effective(account=account).state == State.ACTIVE
    killswitch_stop(by=people["alice"], account=None, reason="desk stop")
    eff = killswitch_effective(account=account)
    assert (eff.account_state, eff.desk_state, eff.state) == (State.ACTIVE, State.STOPPED, State.STOPPED)
    KillSwitch.objects.filter(account=account).update(state=State.HALTED)
    KillSwitch.objects.get_or_create(account=account, defaults={"state": State.HALTED})
    assert killswitch_effective(account=account).state == State.HALTED
