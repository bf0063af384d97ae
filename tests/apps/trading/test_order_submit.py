"""order_submit and order_resolve_in_flight: the broker error contract (definitive rejection,
outcome unknown, duplicate client order id), and order_report_apply's duplicate / stale reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest
from django.db import transaction

from apps.core.statemachine import TransitionError
from apps.trading.brokers.base import (
    DuplicateClientOrderId,
    OrderRejected,
    OrderStatus,
    OutcomeUnknown,
    RateLimited,
)
from apps.trading.models import Fill
from apps.trading.services import UnknownOrder, order_report_apply, order_resolve_in_flight, order_submit

from .conftest import ScriptedBroker, broker_fill, broker_order, create, report

D = Decimal
S = OrderStatus
pytestmark = pytest.mark.django_db(transaction=True)


def raises(exc):
    def _raise(*_a):
        raise exc

    return _raise


def events(order):
    return list(order.events.values_list("event", flat=True))


def test_accepted_submission(account, paper_version):
    order = create(account, paper_version)
    broker = ScriptedBroker(on_submit=lambda r: broker_order(order, S.ACCEPTED, broker_id="B-9"))
    order = order_submit(order=order, broker=broker, arrival_price=D("200.10"))
    assert (order.status, order.broker_order_id, order.arrival_price) == (S.ACCEPTED, "B-9", D("200.10"))
    assert events(order) == ["create", "submit", "accept"]
    sent = broker.submitted[0]
    assert (sent.client_order_id, sent.type, sent.limit_price) == (
        order.client_order_id,
        "limit",
        D("200.00"),
    )


def test_submit_is_committed_before_the_broker_call(account, paper_version):
    order = create(account, paper_version)
    seen = {}

    def look(request):
        from apps.trading.models import Order

        seen["status"] = Order.objects.get(client_order_id=request.client_order_id).status
        return broker_order(order, S.ACCEPTED)

    order_submit(order=order, broker=ScriptedBroker(on_submit=look))
    assert seen["status"] == S.SUBMITTED


def test_submit_refuses_to_run_inside_a_transaction(account, paper_version):
    order = create(account, paper_version)
    with pytest.raises(RuntimeError, match="outside a transaction"), transaction.atomic():
        order_submit(order=order, broker=ScriptedBroker(on_submit=raises(AssertionError)))


def test_definitive_rejection_stores_the_brokers_reason(account, paper_version):
    order = create(account, paper_version)
    broker = ScriptedBroker(
        on_submit=raises(OrderRejected("insufficient buying power", code="40310000", http_status=403))
    )
    order = order_submit(order=order, broker=broker)
    assert (order.status, order.reason_code) == (S.REJECTED, "broker:40310000")
    assert order.reason_detail == "insufficient buying power"


@pytest.mark.parametrize("exc", [OutcomeUnknown("read timeout"), RateLimited("429", retry_after_s=1.0)])
def test_unknown_outcome_stays_in_flight_and_is_never_resent(account, paper_version, exc):
    order = create(account, paper_version)
    broker = ScriptedBroker(on_submit=raises(exc))
    order = order_submit(order=order, broker=broker)
    assert order.status == S.SUBMITTED and events(order)[-1] == "outcome_unknown"
    order_submit(order=order, broker=broker)  # a retried task: not sent again
    assert len(broker.submitted) == 1


def test_duplicate_client_order_id_adopts_the_first_submission(account, paper_version):
    order = create(account, paper_version)
    broker = ScriptedBroker(
        on_submit=raises(DuplicateClientOrderId("client_order_id must be unique")),
        on_lookup=lambda cid: broker_order(order, S.ACCEPTED, broker_id="B-first"),
    )
    order = order_submit(order=order, broker=broker)
    assert (order.status, order.broker_order_id) == (S.ACCEPTED, "B-first")
    assert broker.lookups == [order.client_order_id]


def _in_flight(account, paper_version, *, on_lookup=None):
    order = create(account, paper_version)
    broker = ScriptedBroker(on_submit=raises(OutcomeUnknown("timeout")), on_lookup=on_lookup)
    return order_submit(order=order, broker=broker), broker


def test_resolve_in_flight_adopts_what_the_broker_has(account, paper_version):
    order, broker = _in_flight(account, paper_version, on_lookup=lambda cid: None)
    broker.on_lookup = lambda cid: broker_order(order, S.CANCELLED)
    assert order_resolve_in_flight(order=order, broker=broker).status == S.CANCELLED


def test_resolve_not_found_waits_then_concludes_it_never_landed(account, paper_version, settings):
    settings.TRADING_IN_FLIGHT_NOT_FOUND_S = 60
    order, broker = _in_flight(account, paper_version)
    young = order.submitted_at + dt.timedelta(seconds=59)
    assert order_resolve_in_flight(order=order, broker=broker, now=young).status == S.SUBMITTED
    old = order.submitted_at + dt.timedelta(seconds=60)
    resolved = order_resolve_in_flight(order=order, broker=broker, now=old)
    assert (resolved.status, resolved.reason_code) == (S.REJECTED, "not_found_at_broker")


def test_resolve_keeps_it_in_flight_when_the_lookup_fails(account, paper_version):
    order, broker = _in_flight(account, paper_version, on_lookup=raises(OutcomeUnknown("503")))
    assert order_resolve_in_flight(order=order, broker=broker).status == S.SUBMITTED


def test_duplicate_and_stale_reports_change_nothing(account, paper_version):
    order = create(account, paper_version)
    order = order_submit(
        order=order, broker=ScriptedBroker(on_submit=lambda r: broker_order(order, S.ACCEPTED))
    )
    fill = broker_fill(order, "E-1", 100)
    for _ in range(3):
        order_report_apply(report=report(order, "fill", S.FILLED, fill), source="stream")
    order_report_apply(report=report(order, "new", S.ACCEPTED), source="stream")  # late ack
    order.refresh_from_db()
    assert order.status == S.FILLED and Fill.objects.count() == 1
    assert events(order) == ["create", "submit", "accept", "fill"]


def test_cancel_request_cancel_and_a_late_fill(account, paper_version):
    order = create(account, paper_version)
    order = order_submit(
        order=order, broker=ScriptedBroker(on_submit=lambda r: broker_order(order, S.ACCEPTED))
    )
    order_report_apply(report=report(order, "pending_cancel", S.PENDING_CANCEL), source="stream")
    order_report_apply(report=report(order, "canceled", S.CANCELLED), source="stream")
    order_report_apply(
        report=report(order, "partial_fill", S.PARTIALLY_FILLED, broker_fill(order, "E-1", 40)),
        source="stream",
    )
    order.refresh_from_db()
    assert order.status == S.CANCELLED and Fill.objects.get().qty == D(40)
    assert events(order)[-3:] == ["cancel_request", "cancel", "partial_fill"]


def test_impossible_report_raises(account, paper_version):
    order = create(account, paper_version, qty=D(20_000))  # refused by controls: rejected
    with pytest.raises(TransitionError):
        order_report_apply(report=report(order, "expired", S.EXPIRED), source="stream")


def test_report_for_an_order_we_never_made(account, paper_version):
    order = create(account, paper_version)
    foreign = broker_order(order, S.ACCEPTED)
    with pytest.raises(UnknownOrder):
        order_report_apply(report=replace(foreign, client_order_id="someone-else"), source="stream")


def _pending_cancel(account, paper_version):
    order = create(account, paper_version)
    order = order_submit(
        order=order, broker=ScriptedBroker(on_submit=lambda r: broker_order(order, S.ACCEPTED))
    )
    order_report_apply(report=report(order, "pending_cancel", S.PENDING_CANCEL), source="stream")
    return order


def test_failed_cancel_from_the_stream_returns_to_accepted(account, paper_version):
    order = _pending_cancel(account, paper_version)
    order_report_apply(report=report(order, "new", S.ACCEPTED), source="stream")  # late ack: stale
    order.refresh_from_db()
    assert order.status == S.PENDING_CANCEL
    order_report_apply(report=report(order, "order_cancel_rejected", S.ACCEPTED), source="stream")
    order.refresh_from_db()
    assert order.status == S.ACCEPTED and events(order)[-1] == "cancel_reject"


def test_failed_cancel_seen_in_a_rest_snapshot_returns_to_accepted(account, paper_version):
    order = _pending_cancel(account, paper_version)
    order_report_apply(report=broker_order(order, S.ACCEPTED), source="reconcile")
    order.refresh_from_db()
    assert order.status == S.ACCEPTED and events(order)[-1] == "cancel_reject"


def test_orders_submit_sends_in_batches_and_applies_each_answer(account, paper_version, people):
    """More orders than one batch, through a broker without a batch call (one `submit` each):
    every answer applied to its own order (accepted, rejected, outcome unknown), the arrival
    price by symbol, and no order sent twice when the same orders are submitted again."""
    from apps.trading.services import orders_submit
    from apps.trading.services.orders import SUBMIT_BATCH

    n = SUBMIT_BATCH + 6
    symbols = [f"N{k:02d}" for k in range(n)]  # one working order per name and side (the controls)
    orders = [create(account, paper_version, qty=D(1), symbol=s, marks={s: D("200.00")}) for s in symbols]
    assert {o.status for o in orders} == {S.PENDING_NEW}
    by_cid = {o.client_order_id: (k, o) for k, o in enumerate(orders)}

    def answer(request):
        k, order = by_cid[request.client_order_id]
        if k % 7 == 3:
            raise OrderRejected("no", code="insufficient_buying_power", http_status=403)
        if k % 11 == 5:
            raise OutcomeUnknown("timeout")
        return broker_order(order, S.ACCEPTED, broker_id=f"B-{k}")

    broker = ScriptedBroker(on_submit=answer)
    sent = orders_submit(orders=orders, broker=broker, arrival_prices=dict.fromkeys(symbols, D("200.05")))
    assert [o.pk for o in sent] == [o.pk for o in orders]
    expected = [S.REJECTED if k % 7 == 3 else S.SUBMITTED if k % 11 == 5 else S.ACCEPTED for k in range(n)]
    assert [o.status for o in sent] == expected
    assert [o.status for o in orders] == expected  # the objects given are refreshed in place
    assert all(o.arrival_price == D("200.05") for o in sent)
    assert sent[0].broker_order_id == "B-0" and sent[3].reason_code == "broker:insufficient_buying_power"
    assert "outcome_unknown" in events(sent[5])
    assert len(broker.submitted) == n
    orders_submit(orders=orders, broker=broker)
    assert len(broker.submitted) == n  # none is pending_new any more


def test_orders_submit_sends_nothing_once_the_account_is_stopped(account, paper_version, people):
    from apps.live.services import killswitch_stop
    from apps.trading.services import orders_submit

    orders = [
        create(account, paper_version, symbol=s, marks={s: D("200.00")}) for s in ("AAPL", "MSFT", "NVDA")
    ]
    assert {o.status for o in orders} == {S.PENDING_NEW}
    killswitch_stop(by=people["rita"], account=account, reason="test")
    broker = ScriptedBroker(on_submit=raises(AssertionError("sent after STOP")))
    sent = orders_submit(orders=orders, broker=broker)
    assert {o.status for o in sent} == {S.REJECTED} and not broker.submitted
    assert all(o.reason_code == "kill_switch" for o in sent)
