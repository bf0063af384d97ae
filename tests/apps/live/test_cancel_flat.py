"""CANCEL cancels every open order in bulk and reconciles each from the broker (the state does
not change, the press is audited); FLAT stops, cancels, sells exactly what the broker holds,
verifies flat and reports what could not be closed and why."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.core.statemachine import AppendOnlyError
from apps.live.machine import FLAT_SOURCE, State
from apps.live.models import FlatReport, KillSwitch, KillSwitchEvent
from apps.live.services import killswitch_cancel, killswitch_flat, killswitch_stop
from apps.trading.models import Order
from apps.trading.services import order_submit

from .brokers import InMemoryBroker
from .conftest import BAR, create, hold

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)


def test_cancel_cancels_every_open_order_and_keeps_the_state(people, account, paper_version):
    broker = InMemoryBroker()
    working = [
        order_submit(order=create(account, paper_version, symbol=s, marks={s: D(200)}), broker=broker)
        for s in ("AAPL", "MSFT")
    ]
    unsent = create(account, paper_version, symbol="NVDA", marks={"NVDA": D(200)})
    assert [o.status for o in working] == ["accepted", "accepted"] and unsent.status == "pending_new"
    [summary] = killswitch_cancel(
        by=people["alice"], account=account, broker_for=lambda a: broker, reason="too much"
    )
    assert broker.cancel_all_calls == 1
    assert (summary.cancelled, summary.unsent_denied, summary.still_open) == (2, 1, [])
    assert set(Order.objects.values_list("status", flat=True)) == {"cancelled", "rejected"}
    assert KillSwitch.objects.get(account=account).state == State.ACTIVE
    ev = KillSwitchEvent.objects.get()
    assert (ev.event, ev.from_state, ev.to_state, ev.actor, ev.reason) == (
        "cancel",
        "active",
        "active",
        people["alice"],
        "too much",
    )


def test_flat_sells_exactly_what_is_held_and_ends_flat(people, account, paper_version):
    broker = InMemoryBroker(fill_sells=True)
    hold(account, paper_version, broker, "AAPL", 100)
    hold(account, paper_version, broker, "MSFT", 37, bar=BAR + dt.timedelta(hours=1))
    resting = order_submit(
        order=create(
            account,
            paper_version,
            symbol="NVDA",
            marks={"NVDA": D(200)},
            bar_time=BAR + dt.timedelta(hours=2),
        ),
        broker=broker,
    )
    [report] = killswitch_flat(
        by=people["alice"], account=account, broker_for=lambda a: broker, reason="flatten"
    )
    sells = [(r.symbol, r.qty) for _t, r in broker.submitted if r.side == "sell"]
    assert sorted(sells) == [("AAPL", D(100)), ("MSFT", D(37))]
    resting.refresh_from_db()
    assert resting.status == "cancelled"
    assert report.flat and all(line["why"] == "" and line["remaining"] == "0" for line in report.lines)
    assert KillSwitch.objects.get(account=account).state == State.FLAT
    assert list(KillSwitchEvent.objects.values_list("event", flat=True)) == ["flat", "flat_done"]
    assert set(Order.objects.filter(side="sell").values_list("events__source", flat=True)) >= {FLAT_SOURCE}
    assert all(o.model_version_id is None for o in Order.objects.filter(side="sell"))
    with pytest.raises(AppendOnlyError):
        report.save()


def test_flat_reports_what_could_not_be_closed(people, account, paper_version):
    broker = InMemoryBroker(fill_sells=True, refuse_sells=frozenset({"MSFT"}))
    hold(account, paper_version, broker, "AAPL", 100)
    hold(account, paper_version, broker, "MSFT", 50, bar=BAR + dt.timedelta(hours=1))
    broker.held["TSLA"] = D(5)  # the broker holds a name our book does not know: the sell is refused
    killswitch_stop(by=people["alice"], account=account, reason="first stop")
    [report] = killswitch_flat(
        by=people["rita"], account=account, broker_for=lambda a: broker, reason="flatten"
    )
    assert not report.flat
    lines = {line["symbol"]: line for line in report.lines}
    assert lines["AAPL"]["remaining"] == "0" and lines["AAPL"]["why"] == ""
    assert lines["MSFT"]["remaining"] == "50" and "broker:40310000" in lines["MSFT"]["why"]
    assert lines["TSLA"]["remaining"] == "5" and "sell_exceeds_position" in lines["TSLA"]["why"]
    assert KillSwitch.objects.get(account=account).state == State.STOPPED
    assert FlatReport.objects.count() == 1
    assert list(KillSwitchEvent.objects.values_list("event", flat=True)) == [
        "stop",
        "flat",
        "flat_incomplete",
    ]


def test_a_flat_whose_process_died_half_way_is_finished_by_pressing_flat_again(
    people, account, paper_version
):
    """The switch was left FLATTENING (the process pressing FLAT died after the switch moved):
    FLAT again sells what is held, good till cancelled, and verifies flat."""
    broker = InMemoryBroker(fill_sells=True)
    hold(account, paper_version, broker, "AAPL", 100)
    KillSwitch.objects.create(account=account, state=State.FLATTENING)
    [report] = killswitch_flat(
        by=people["alice"], account=account, broker_for=lambda a: broker, reason="again"
    )
    assert report.flat and KillSwitch.objects.get(account=account).state == State.FLAT
    assert [r.time_in_force for _t, r in broker.submitted if r.side == "sell"] == ["gtc"]
