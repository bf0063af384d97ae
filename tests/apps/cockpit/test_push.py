"""The services' pushed messages (issue 11): each write announces itself on the right stream
(account.<pk> / desk), with the stream's next sequence number, in the cockpit's row shapes, only
after its transaction commits; a rolled-back write sends nothing and takes no number."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from apps.cockpit.rows import HEALTH_CHECKS
from apps.core.realtime import DESK_STREAM, account_stream, stream_seq
from apps.core.services import worker_heartbeat_record
from apps.live.services import account_reconcile, killswitch_stop
from apps.trading.services import OrderDecision, fill_record, order_submit, orders_create
from tests.apps.cockpit.push_support import Listener
from tests.apps.live.brokers import InMemoryBroker
from tests.apps.live.conftest import hold
from tests.apps.trading.conftest import BAR, account, broker_fill, create, paper_version, people  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal
ORDER_KEYS = {"id", "client_order_id", "symbol", "side", "qty", "type", "limit_price", "status"}
ORDER_KEYS |= {"reason_code", "bar_time", "submitted_at", "filled_qty"}


def _seqs(messages):
    return [m["payload"]["seq"] for m in messages]


def test_a_batch_of_orders_is_one_message_and_each_change_after_it_one_more(account, paper_version):  # noqa: F811
    listen = Listener(account_stream(account.pk))
    decisions = [
        OrderDecision("AAPL", "buy", D(10), "limit", D("200.00"), "day", D("200.00")),
        OrderDecision("MSFT", "buy", D(10), "limit", D("300.00"), "day", D("300.00")),
        OrderDecision("ZZZZ", "buy", D(10), "limit", D("50.00"), "day", D("50.00")),  # no mark: refused
    ]
    aapl, msft, zzzz = orders_create(
        account=account,
        model_version=paper_version,
        bar_time=BAR,
        decisions=decisions,
        marks={"AAPL": D("200.00"), "MSFT": D("300.00")},
        day_start_equity=D("1000000"),
    )
    [batch] = listen.drain()
    assert batch["event"] == "orders" and batch["payload"]["seq"] == 1
    assert batch["payload"]["stream"] == account_stream(account.pk)
    assert batch["payload"]["account"] == account.name
    rows = batch["payload"]["orders"]
    assert [r["client_order_id"] for r in rows] == [o.client_order_id for o in (aapl, msft, zzzz)]
    assert all(set(r) == ORDER_KEYS for r in rows)
    assert [r["status"] for r in rows] == ["pending_new", "pending_new", "rejected"]
    assert rows[2]["reason_code"] and rows[0]["filled_qty"] == "0" and rows[0]["qty"] == "10"

    # the same decisions again (a retried cycle): nothing new, nothing announced
    orders_create(
        account=account,
        model_version=paper_version,
        bar_time=BAR,
        decisions=decisions,
        marks={"AAPL": D("200.00"), "MSFT": D("300.00")},
        day_start_equity=D("1000000"),
    )
    assert listen.drain(wait=0.2) == []

    broker = InMemoryBroker()
    order_submit(order=aapl, broker=broker)
    changes = listen.drain()
    assert {m["event"] for m in changes} == {"order"}
    assert _seqs(changes) == list(range(2, 2 + len(changes)))
    assert changes[-1]["payload"]["order"]["status"] == "accepted"
    assert changes[-1]["payload"]["order"]["submitted_at"]
    assert stream_seq(account_stream(account.pk)) == 1 + len(changes)


def test_a_fill_carries_its_position_then_its_order_and_a_replay_sends_nothing(account, paper_version):  # noqa: F811
    broker = InMemoryBroker()
    order = create(account, paper_version)
    order_submit(order=order, broker=broker)
    listen = Listener(account_stream(account.pk))
    start = stream_seq(account_stream(account.pk))
    fill_record(order=order, fill=broker_fill(order, "E-1", D(40), price="199.50"), source="stream")
    fill, change = listen.drain()
    assert (fill["event"], change["event"]) == ("fill", "order")
    assert _seqs([fill, change]) == [start + 1, start + 2]
    assert fill["payload"]["fill"] == {
        "execution_id": "E-1",
        "symbol": "AAPL",
        "side": "buy",
        "qty": "40",
        "price": "199.5",
        "fee": "0.01",
        "at": BAR.isoformat().replace("+00:00", "Z"),
        "shortfall_decision_bps": -25.0,
        "shortfall_arrival_bps": None,
        "client_order_id": order.client_order_id,
    }
    position = fill["payload"]["position"]
    assert (position["symbol"], position["qty"], position["avg_cost"], position["last"]) == (
        "AAPL",
        "40",
        "199.5",
        "199.5",
    )
    assert position["market_value"] == "7980.00" and position["weight"] is None
    assert change["payload"]["order"]["status"] == "partially_filled"
    assert change["payload"]["order"]["filled_qty"] == "40"

    fill_record(order=order, fill=broker_fill(order, "E-1", D(40), price="199.50"), source="rest")
    assert listen.drain(wait=0.2) == []  # the same execution again: nothing written, nothing sent

    fill_record(order=order, fill=broker_fill(order, "E-2", D(60), price="200.50"), source="stream")
    fill, change = listen.drain()
    assert fill["payload"]["position"]["qty"] == "100" and fill["payload"]["position"]["avg_cost"] == "200.1"
    assert (
        change["payload"]["order"]["status"] == "filled" and change["payload"]["order"]["filled_qty"] == "100"
    )


def test_a_rolled_back_write_sends_nothing_and_takes_no_number(account, paper_version):  # noqa: F811
    broker = InMemoryBroker()
    order = create(account, paper_version)
    order_submit(order=order, broker=broker)
    listen = Listener(account_stream(account.pk))
    before = stream_seq(account_stream(account.pk))
    with pytest.raises(RuntimeError, match="undo"), transaction.atomic():
        fill_record(order=order, fill=broker_fill(order, "E-9", D(100)), source="stream")
        raise RuntimeError("undo")
    assert listen.drain(wait=0.3) == []
    assert stream_seq(account_stream(account.pk)) == before
    fill_record(order=order, fill=broker_fill(order, "E-9", D(100)), source="stream")
    assert _seqs(listen.drain()) == [before + 1, before + 2]


def test_stop_is_announced_on_the_account_stream_and_the_desk_stop_on_the_desk_stream(account, people):  # noqa: F811
    on_account = Listener(account_stream(account.pk))
    on_desk = Listener(DESK_STREAM)
    killswitch_stop(by=people["alice"], account=account, reason="runaway")
    [message] = on_account.drain()
    assert message["event"] == "killswitch" and message["payload"]["account"] == account.name
    block = message["payload"]["kill_switch"]
    assert (block["state"], block["account_state"], block["desk_state"]) == ("stopped", "stopped", "active")
    assert block["reason"] == "runaway" and block["changed_at"]
    assert on_desk.drain(wait=0.2) == []

    desk_before = stream_seq(DESK_STREAM)
    killswitch_stop(by=people["alice"], account=None, reason="market halt")
    [message] = on_desk.drain()
    assert message["event"] == "killswitch" and message["payload"]["seq"] == desk_before + 1
    assert message["payload"]["account"] is None
    block = message["payload"]["kill_switch"]
    assert (block["state"], block["account_state"], block["desk_state"]) == ("stopped", None, "stopped")
    assert block["reason"] == "market halt"
    assert on_account.drain(wait=0.2) == []


def test_a_reconciliation_result_is_announced_on_the_account_stream(account, paper_version):  # noqa: F811
    broker = InMemoryBroker()
    hold(account, paper_version, broker, "AAPL", 10)
    listen = Listener(account_stream(account.pk))
    row = account_reconcile(account=account, broker=broker, trigger="manual")
    assert row.ok
    [message] = [m for m in listen.drain() if m["event"] == "health"]
    assert message["payload"]["account"] == account.name
    assert message["payload"]["reconciliation"] == {
        "at": row.at.isoformat().replace("+00:00", "Z"),
        "trigger": "manual",
        "ok": True,
        "breaks": [],
        "recovered_fills": 0,
        "resolved_orders": 0,
    }

    broker.held["AAPL"] = D(7)  # the broker holds less than our book: a break, and the halt
    listen.drain(wait=0.1)
    row = account_reconcile(account=account, broker=broker, trigger="manual")
    assert not row.ok
    messages = listen.drain()
    assert [m["event"] for m in messages] == ["health", "killswitch"]  # the halt in the same write
    assert messages[0]["payload"]["reconciliation"]["ok"] is False
    assert messages[0]["payload"]["reconciliation"]["breaks"]
    assert messages[1]["payload"]["kill_switch"]["state"] == "halted"
    assert _seqs(messages) == [messages[0]["payload"]["seq"], messages[0]["payload"]["seq"] + 1]


def test_worker_health_goes_to_the_desk_stream_only_when_it_changes(settings):
    assert "worker" in HEALTH_CHECKS
    on_desk = Listener(DESK_STREAM)
    worker_heartbeat_record(hostname="celery@a")
    [message] = on_desk.drain()
    assert message["event"] == "health" and message["payload"]["seq"] == 1
    assert message["payload"]["checks"]["worker"]["ok"] is True
    worker_heartbeat_record(hostname="celery@a")
    worker_heartbeat_record(hostname="celery@b")
    assert on_desk.drain(wait=0.2) == []  # a live worker beating again is no change
    assert stream_seq(DESK_STREAM) == 1
