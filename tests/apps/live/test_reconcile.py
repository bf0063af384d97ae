"""account_reconcile against the in-memory broker: a clean account reconciles ok and a second run
changes nothing; dropped fills are recovered; orders in flight are settled; each break kind halts
the account with one critical alert (that UNLOCK resolves); an outage is not a break; every
account with an active version is reconciled, one failure not stopping the others."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.alerts.models import Alert, AlertKind, AlertStatus, Severity
from apps.live.machine import State
from apps.live.models import KillSwitch, KillSwitchEvent, Reconciliation
from apps.live.services import (
    BrokerUnavailable,
    account_reconcile,
    accounts_reconcile,
    broker_alert_key,
    killswitch_unlock,
    reconcile_alert_key,
)
from apps.trading.brokers.base import BrokerFill, OrderRequest, OrderSide, OrderStatus
from apps.trading.models import Fill, Order, OrderEvent
from apps.trading.services import (
    account_version_link,
    fill_record,
    order_report_apply,
    order_transition,
    trading_account_create,
)
from tests.apps.trading.conftest import broker_order

from .brokers import InMemoryBroker
from .conftest import BAR, broker_fill, create

D = Decimal
S = OrderStatus
pytestmark = pytest.mark.django_db


def _working(acct, version, broker, symbol="MSFT", qty=50, bar=BAR):
    """An order sent and resting (accepted) at the broker (the steps of order_submit, which
    must run outside the test's transaction)."""
    order = create(acct, version, symbol=symbol, qty=D(qty), bar_time=bar, marks={symbol: D("200.00")})
    order_transition(order=order, event="submit", source="test", submitted_at=timezone.now())
    request = OrderRequest(
        client_order_id=order.client_order_id,
        symbol=symbol,
        side=OrderSide(order.side),
        qty=order.qty,
        limit_price=order.limit_price,
    )
    order = order_report_apply(report=broker.submit(request), source="test")
    assert order.status == S.ACCEPTED
    return order


def _held(acct, version, broker, symbol="AAPL", qty=100):
    """A position: an order filled at the broker and its fill recorded in our book."""
    order = _working(acct, version, broker, symbol=symbol, qty=qty)
    fill_record(order=order, fill=broker.execute(order.client_order_id, qty), source="stream")
    return order


def _in_flight(acct, version, symbol, *, age_s=0):
    """An order whose submit committed but whose broker answer never came."""
    order = create(acct, version, symbol=symbol, qty=D(10), marks={symbol: D("200.00")})
    order_transition(
        order=order, event="submit", source="test", submitted_at=timezone.now() - dt.timedelta(seconds=age_s)
    )
    order.refresh_from_db()
    return order


def _switch(acct) -> str:
    row = KillSwitch.objects.filter(account=acct).first()
    return row.state if row else State.ACTIVE


def _counts():
    return (
        Fill.objects.count(),
        OrderEvent.objects.count(),
        KillSwitchEvent.objects.count(),
        Alert.objects.count(),
    )


def test_clean_account_is_ok_and_reconciling_again_changes_nothing(account, paper_version):
    broker = InMemoryBroker()
    _held(account, paper_version, broker)
    _working(account, paper_version, broker)
    first = account_reconcile(account=account, broker=broker, trigger="startup")
    assert (first.ok, first.breaks, first.recovered_fills, first.resolved_orders) == (True, [], 0, 0)
    assert "open orders: 1 at the broker" in first.detail
    before = _counts()
    second = account_reconcile(account=account, broker=broker, trigger="cycle")
    assert second.ok and second.pk != first.pk and _counts() == before
    assert _switch(account) == State.ACTIVE and not Alert.objects.exists()


def test_dropped_fills_are_recovered_once(account, paper_version):
    broker = InMemoryBroker()
    order = _working(account, paper_version, broker, qty=50)
    seen = broker.execute(order.client_order_id, 20)
    broker.execute(order.client_order_id, 30)  # the stream dropped this one
    fill_record(order=order, fill=seen, source="stream")
    row = account_reconcile(account=account, broker=broker, trigger="reconnect")
    assert row.ok and row.recovered_fills == 1
    order.refresh_from_db()
    assert order.status == S.FILLED and Fill.objects.filter(order=order).count() == 2
    again = account_reconcile(account=account, broker=broker, trigger="cycle")
    assert again.ok and again.recovered_fills == 0 and Fill.objects.count() == 2


def test_orders_in_flight_are_settled(account, paper_version, settings):
    settings.TRADING_IN_FLIGHT_NOT_FOUND_S = 60
    broker = InMemoryBroker()
    landed = _in_flight(account, paper_version, "AAPL")
    broker.rest(broker_order(landed, S.ACCEPTED, broker_id="M-9"))
    lost = _in_flight(account, paper_version, "MSFT", age_s=600)
    young = _in_flight(account, paper_version, "NVDA")
    row = account_reconcile(account=account, broker=broker, trigger="startup")
    assert row.ok and row.resolved_orders == 2 and "in flight: 2 of 3 settled" in row.detail
    statuses = dict(Order.objects.values_list("symbol", "status"))
    assert statuses == {"AAPL": S.ACCEPTED, "MSFT": S.REJECTED, "NVDA": S.SUBMITTED}
    lost.refresh_from_db()
    assert lost.reason_code == "not_found_at_broker"
    # later, with `now` past the threshold, the young one is settled too
    later = account_reconcile(
        account=account, broker=broker, trigger="cycle", now=timezone.now() + dt.timedelta(minutes=5)
    )
    young.refresh_from_db()
    assert later.resolved_orders == 1 and young.status == S.REJECTED


def test_working_orders_the_broker_no_longer_lists_are_looked_up(account, paper_version):
    broker = InMemoryBroker()
    cancelled = _working(account, paper_version, broker, symbol="AAPL")
    filled = _working(account, paper_version, broker, symbol="MSFT", qty=10)
    broker.finish(cancelled.client_order_id, S.CANCELLED)
    broker.execute(filled.client_order_id, 10)
    row = account_reconcile(account=account, broker=broker, trigger="cycle")
    assert row.ok and row.recovered_fills == 1, row.breaks
    statuses = dict(Order.objects.values_list("symbol", "status"))
    assert statuses == {"AAPL": S.CANCELLED, "MSFT": S.FILLED}
    assert "1 of ours updated" in row.detail


def _break_kinds(row) -> list[str]:
    return sorted(b["kind"] for b in row.breaks)


def test_unknown_fill_halts_raises_one_alert_and_unlock_resolves_it(people, account, paper_version, settings):
    settings.KILLSWITCH_UNLOCK_FOUR_EYES = False
    broker = InMemoryBroker()
    broker.executions.append(
        BrokerFill(
            execution_id="EXT-1",
            broker_order_id="ext-order",
            client_order_id="placed-by-hand",
            symbol="TSLA",
            side=OrderSide.BUY,
            qty=D(5),
            price=D(300),
            fee=D(0),
            at=timezone.now(),
        )
    )
    broker.held["TSLA"] = D(5)
    row = account_reconcile(account=account, broker=broker, trigger="startup")
    assert not row.ok and _break_kinds(row) == ["position", "unknown_fill"]
    unknown = next(b for b in row.breaks if b["kind"] == "unknown_fill")
    assert unknown["execution_id"] == "EXT-1" and unknown["client_order_id"] == "placed-by-hand"
    position = next(b for b in row.breaks if b["kind"] == "position")
    assert (position["symbol"], position["ours"], position["broker"], position["difference"]) == (
        "TSLA",
        "0",
        "5",
        "5",
    )
    assert _switch(account) == State.HALTED
    halt = KillSwitchEvent.objects.get(event="halt")
    assert halt.actor is None and halt.payload == {"reconciliation_id": row.pk}
    assert "unknown_fill" in halt.reason
    alert = Alert.objects.get(kind=AlertKind.RECONCILIATION_BREAK)
    assert (alert.severity, alert.account, alert.dedup_key) == (
        Severity.CRITICAL,
        account,
        reconcile_alert_key(account.pk),
    )
    assert alert.details["reconciliation_id"] == row.pk and "unknown_fill TSLA" in alert.message

    # Again: the unknown fill was reported already; the position still differs (the same alert).
    again = account_reconcile(account=account, broker=broker, trigger="cycle")
    assert _break_kinds(again) == ["position"]
    alert.refresh_from_db()
    assert alert.count == 2 and Alert.objects.filter(kind=AlertKind.RECONCILIATION_BREAK).count() == 1

    killswitch_unlock(by=people["rita"], account=account, reason="TSLA bought by hand, selling it")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and alert.resolved_by == people["rita"]
    assert _switch(account) == State.ACTIVE
    # the break is still there: the next reconciliation halts again, with a new alert
    account_reconcile(account=account, broker=broker, trigger="cycle")
    assert _switch(account) == State.HALTED
    assert Alert.objects.filter(kind=AlertKind.RECONCILIATION_BREAK, status=AlertStatus.OPEN).count() == 1


def test_an_open_order_that_is_not_ours_is_a_break(account, paper_version):
    broker = InMemoryBroker()
    mine = _working(account, paper_version, broker)
    foreign = dataclasses.replace(
        broker.orders[mine.client_order_id], client_order_id="someone-else", broker_order_id="M-77"
    )
    broker.rest(foreign)
    row = account_reconcile(account=account, broker=broker, trigger="cycle")
    assert _break_kinds(row) == ["unknown_order"]
    assert row.breaks[0]["client_order_id"] == "someone-else" and _switch(account) == State.HALTED


def test_an_order_of_another_account_is_not_applied_to_it(people, account, paper_version):
    other = trading_account_create(
        by=people["ada"], name="paper-2", broker_kind="paper", endpoint="paper", starting_cash=D(1_000_000)
    )
    shared = InMemoryBroker()  # two desk accounts on one broker account
    theirs = create(other, None, symbol="AAPL", marks={"AAPL": D(200)})
    shared.rest(broker_order(theirs, S.ACCEPTED))
    row = account_reconcile(account=account, broker=shared, trigger="cycle")
    assert _break_kinds(row) == ["unknown_order"]
    theirs.refresh_from_db()
    assert theirs.status == S.PENDING_NEW  # untouched


@pytest.mark.parametrize(
    ("broker_qty", "kinds"),
    [
        ("100.0000005", []),  # within RECONCILE_QTY_TOLERANCE
        ("101", ["position"]),
        ("99", ["position"]),
        ("0", ["position"]),
    ],
)
def test_positions_against_the_sum_of_fills(account, paper_version, broker_qty, kinds):
    broker = InMemoryBroker()
    _held(account, paper_version, broker)
    broker.held["AAPL"] = D(broker_qty)
    row = account_reconcile(account=account, broker=broker, trigger="cycle")
    assert _break_kinds(row) == kinds and row.ok == (not kinds)
    if kinds:
        (b,) = row.breaks
        assert (b["ours"], b["broker"], D(b["difference"])) == ("100", broker_qty, D(broker_qty) - 100)
        assert "second look" in row.detail


def test_a_short_position_at_the_broker_is_a_break(account):
    broker = InMemoryBroker(positions={"TSLA": D(-3)})
    row = account_reconcile(account=account, broker=broker, trigger="cycle")
    assert _break_kinds(row) == ["negative_position"] and row.breaks[0]["broker"] == "-3"


def test_a_broker_that_cannot_answer_is_not_a_break(account, paper_version):
    broker = InMemoryBroker()
    _working(account, paper_version, broker)
    broker.down = True
    for _ in range(2):
        with pytest.raises(BrokerUnavailable, match="nothing halted") as info:
            account_reconcile(account=account, broker=broker, trigger="cycle")
    assert type(info.value.cause).__name__ == "OutcomeUnknown"
    assert not Reconciliation.objects.exists() and _switch(account) == State.ACTIVE
    alert = Alert.objects.get()
    assert (alert.kind, alert.dedup_key, alert.count) == (
        AlertKind.BROKER_DISCONNECTED,
        broker_alert_key(account.pk),
        2,
    )
    broker.down = False
    assert account_reconcile(account=account, broker=broker, trigger="cycle").ok


def test_we_think_rejected_but_the_broker_has_it_working(account, paper_version, settings):
    settings.TRADING_IN_FLIGHT_NOT_FOUND_S = 0
    broker = InMemoryBroker()
    order = _in_flight(account, paper_version, "AAPL", age_s=5)
    account_reconcile(account=account, broker=broker, trigger="cycle")  # not found: rejected
    order.refresh_from_db()
    assert order.status == S.REJECTED
    broker.rest(broker_order(order, S.ACCEPTED))  # ... and then it shows up, working
    row = account_reconcile(account=account, broker=broker, trigger="cycle")
    assert _break_kinds(row) == ["order_status"] and row.breaks[0]["ours"] == S.REJECTED


def test_a_fill_that_contradicts_its_order_is_a_break(account, paper_version):
    broker = InMemoryBroker()
    order = _working(account, paper_version, broker, symbol="AAPL", qty=10)
    wrong = dataclasses.replace(broker_fill(order, "X-bad", 10, at=timezone.now()), symbol="MSFT")
    broker.executions.append(wrong)
    row = account_reconcile(account=account, broker=broker, trigger="cycle")
    assert _break_kinds(row) == ["fill_mismatch"] and not Fill.objects.exists()


def test_an_unknown_trigger_is_refused(account):
    with pytest.raises(ValueError, match="unknown reconciliation trigger 'boot'"):
        account_reconcile(account=account, broker=InMemoryBroker(), trigger="boot")


# --- every account -----------------------------------------------------------------------------

BROKERS: dict[str, InMemoryBroker | Exception] = {}


def broker_by_name(account):
    """A TRADING_BROKER_FACTORY for these tests: the broker (or the error) set for the account."""
    found = BROKERS[account.name]
    if isinstance(found, Exception):
        raise found
    return found


@pytest.fixture
def factory(settings):
    settings.TRADING_BROKER_FACTORY = f"{__name__}.broker_by_name"
    BROKERS.clear()
    yield BROKERS
    BROKERS.clear()


def test_accounts_reconcile_every_trading_account_and_survives_a_failure(
    people, account, paper_version, factory
):
    down = trading_account_create(
        by=people["ada"], name="paper-down", broker_kind="paper", endpoint="paper", starting_cash=D(1_000_000)
    )
    account_version_link(by=people["ada"], account=down, version=paper_version)
    broken = trading_account_create(
        by=people["ada"],
        name="paper-broken",
        broker_kind="paper",
        endpoint="paper",
        starting_cash=D(1_000_000),
    )
    account_version_link(by=people["ada"], account=broken, version=paper_version)
    trading_account_create(  # no version: not reconciled
        by=people["ada"], name="paper-idle", broker_kind="paper", endpoint="paper", starting_cash=D(1_000_000)
    )
    outage = InMemoryBroker()
    outage.down = True
    factory.update({account.name: InMemoryBroker(), down.name: outage, broken.name: LookupError("no venue")})
    rows = accounts_reconcile(trigger="startup")
    assert [(r.account.name, r.ok, r.trigger) for r in rows] == [("paper-1", True, "startup")]
    alerts = dict(Alert.objects.values_list("account__name", "message"))
    assert set(alerts) == {"paper-down", "paper-broken"}
    assert "LookupError: no venue" in alerts["paper-broken"]
    assert all(_switch(a) == State.ACTIVE for a in (account, down, broken))
