"""The order state machine: the real-world edges named in the issue, and a hypothesis
RuleBasedStateMachine that throws random events at a real order row through the one service
(order_transition) and checks the history it leaves."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from apps.core.statemachine import TransitionError
from apps.trading.brokers.base import OrderStatus
from apps.trading.models import Order
from apps.trading.orders import ORDER_MACHINE, WORKING
from apps.trading.services import order_transition

from .conftest import BAR

S = OrderStatus
EVENTS = sorted({e for (_s, e) in ORDER_MACHINE.table})
TERMINAL = {S.FILLED, S.REJECTED, S.EXPIRED}
pytestmark = pytest.mark.django_db


def test_every_status_is_a_state_of_the_table():
    assert ORDER_MACHINE.states == set(OrderStatus)


@pytest.mark.parametrize(
    "path, end",
    [
        (
            ["submit", "accept", "cancel_request", "partial_fill"],
            S.PARTIALLY_FILLED,
        ),  # fill after a cancel request
        (["submit", "accept", "cancel_request", "cancel", "partial_fill"], S.CANCELLED),  # late partial fill
        (["submit", "accept", "cancel_request", "cancel", "fill"], S.FILLED),  # late fill completes it
        (["submit", "accept", "cancel_request", "cancel_reject"], S.ACCEPTED),  # failed cancel
        (["submit", "accept", "cancel_request", "cancel_request"], S.PENDING_CANCEL),  # repeated
        (["submit", "partial_fill", "partial_fill", "fill"], S.FILLED),  # fills before the ack
        (["deny"], S.REJECTED),
    ],
)
def test_real_world_edges(path, end):
    state = S.PENDING_NEW
    for event in path:
        state = ORDER_MACHINE.next_state(state, event)
    assert state == end


@pytest.mark.parametrize(
    "state, event",
    [
        (S.FILLED, "cancel"),
        (S.REJECTED, "fill"),
        (S.PENDING_NEW, "fill"),
        (S.CANCELLED, "accept"),
        (S.EXPIRED, "fill"),
    ],
)
def test_anything_else_raises_and_is_logged(state, event, caplog):
    with pytest.raises(TransitionError, match="allowed"):
        ORDER_MACHINE.next_state(state, event)
    assert "cannot take" in caplog.text


_bars = itertools.count()


class OrderLifecycle(RuleBasedStateMachine):
    """One order row; each step applies a random event. Checked: a refused event raises and
    writes nothing; an applied one writes exactly one event row chained to the previous; terminal
    states never move; rejection happens only before the broker accepted anything."""

    account = None

    def __init__(self) -> None:
        super().__init__()
        bar = BAR + dt.timedelta(hours=next(_bars))
        self.order = Order.objects.create(
            account=self.account,
            bar_time=bar,
            symbol="AAPL",
            side="buy",
            qty=Decimal(100),
            requested_type="limit",
            type="limit",
            limit_price=Decimal(200),
            client_order_id=f"hg{self.account.pk}-{bar:%Y%m%d%H%M}-b-AAPL",
        )
        self.history: list[str] = [S.PENDING_NEW]

    @rule(event=st.sampled_from(EVENTS))
    def apply(self, event: str) -> None:
        before = self.order.status
        events_before = self.order.events.count()
        try:
            won = order_transition(order=self.order, event=event, source="hypothesis")
        except TransitionError:
            assert before in TERMINAL or (before, event) not in ORDER_MACHINE.table
            assert Order.objects.get(pk=self.order.pk).status == before
            assert self.order.events.count() == events_before
            return
        assert won
        assert before not in TERMINAL
        if self.order.status == S.REJECTED:
            assert before in (S.PENDING_NEW, S.SUBMITTED)
        if event in ("fill", "partial_fill"):
            assert before in WORKING or before == S.CANCELLED
        self.history.append(self.order.status)

    @invariant()
    def row_and_history_agree(self) -> None:
        rows = list(self.order.events.order_by("pk").values_list("from_status", "to_status"))
        assert [to for _f, to in rows] == self.history[1:]
        assert [f for f, _t in rows] == self.history[:-1]
        assert Order.objects.get(pk=self.order.pk).status == self.history[-1]


def test_random_event_sequences(people):
    from apps.trading.models import TradingAccount

    OrderLifecycle.account = TradingAccount.objects.create(
        name="hyp",
        broker_kind="paper",
        endpoint="paper",
        starting_cash=Decimal(1000),
        created_by=people["ada"],
    )
    run_state_machine_as_test(
        OrderLifecycle,
        settings=settings(
            max_examples=60,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
