"""order_create: controls in the order path, the order committed as pending_new or refused with a
reason code, idempotent per (account, bar, symbol, side), kill-switch trips recorded and raised."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from apps.strategies.models import ModelVersion, Stage
from apps.trading.brokers.base import OrderStatus
from apps.trading.models import ControlTrip, MessageWindow, Order, OrderEvent
from apps.trading.selectors import refusals_by_cycle
from apps.trading.services import KillSwitchTrip, risk_limits_update

from .conftest import BAR, create

D = Decimal
pytestmark = pytest.mark.django_db


def test_passed_order_is_pending_new_with_lineage_and_one_event(account, paper_version):
    order = create(account, paper_version)
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_NEW and order.reason_code == ""
    assert order.client_order_id == f"hg{account.pk}-202510011400-b-AAPL"
    assert (order.config_sha256, order.data_hash, order.decision_time) == ("c" * 64, "d" * 64, BAR)
    assert order.model_version == paper_version and order.limits_version == 1
    assert list(order.events.values_list("event", "to_status")) == [("create", "pending_new")]


def test_retry_returns_the_same_order(account, paper_version):
    first = create(account, paper_version)
    again = create(account, paper_version, qty=D(5))  # a retried cycle, even with another size
    assert again.pk == first.pk and Order.objects.count() == 1
    assert MessageWindow.objects.get().count == 1


def test_refusal_is_a_rejected_order_with_its_reason(account, paper_version):
    order = create(account, paper_version, qty=D(20_000))
    assert order.status == OrderStatus.REJECTED and order.reason_code == "max_order_qty"
    assert list(order.events.values_list("event", "to_status", "source")) == [
        ("create", "pending_new", "cycle"),
        ("deny", "rejected", "controls"),
    ]
    assert refusals_by_cycle(account=account, bar_time=BAR) == {"max_order_qty": 1}
    assert MessageWindow.objects.filter(count__gt=0).count() == 0  # a refused order spends no message


def test_market_order_is_stored_as_its_protective_limit(account, paper_version):
    order = create(account, paper_version, type="market", limit_price=None)
    assert (order.requested_type, order.type, order.limit_price) == ("market", "limit", D("204.00"))


def test_version_promoted_since_it_was_read_is_refused(account, paper_version):
    ModelVersion.objects.filter(pk=paper_version.pk).update(stage=Stage.LIVE)  # paper_version is stale
    order = create(account, paper_version)
    assert order.reason_code == "version_not_tradable" and "stage 'live'" in order.reason_detail


def test_version_the_account_does_not_trade_is_refused(account, paper_version, people):
    from tests.apps.strategies.conftest import make_version

    other = make_version(paper_version.strategy, people["quinn"], stage=Stage.PAPER)
    order = create(account, other)
    assert order.reason_code == "version_not_tradable" and "not the version" in order.reason_detail


def test_cycle_counts_include_this_cycles_passed_orders(account, paper_version, people):
    risk_limits_update(by=people["rita"], account=account, changes={"max_orders_per_cycle": 2}, reason="test")
    for symbol in ("AAPL", "MSFT"):
        assert create(account, paper_version, symbol=symbol, marks={symbol: D(200)}).status == "pending_new"
    third = create(account, paper_version, symbol="NVDA", marks={"NVDA": D(200)})
    assert third.reason_code == "max_orders_per_cycle" and third.limits_version == 2


def test_intraday_loss_trips_the_kill_switch_after_commit(account, paper_version):
    with pytest.raises(KillSwitchTrip) as caught:
        create(account, paper_version, day_start_equity=D(1_040_000))  # equity 1,000,000: 3.8% down
    trip = ControlTrip.objects.get()
    assert caught.value.trip == trip and trip.reason_code == "intraday_loss"
    assert Order.objects.get().reason_code == "intraday_loss"  # committed despite the raise


def test_message_rate_limit_refuses_past_the_limit(account, paper_version, people):
    risk_limits_update(
        by=people["rita"], account=account, changes={"max_messages_per_minute": 2}, reason="test"
    )
    made = [create(account, paper_version, symbol=s, marks={s: D(200)}) for s in ("A", "B", "C")]
    assert [o.reason_code for o in made] == ["", "", "message_rate"]


def test_a_viewer_cannot_place_orders(account, paper_version, people):
    with pytest.raises(PermissionDenied):
        create(account, paper_version, by=people["victor"])
    assert create(account, paper_version, by=people["alice"]).status == "pending_new"
    assert OrderEvent.objects.get().actor == people["alice"]


@pytest.mark.parametrize(
    "bad", [{"qty": D("NaN")}, {"marks": {"AAPL": D("Infinity")}}, {"decision_price": D(-1)}]
)
def test_non_finite_inputs_are_refused_before_anything_is_written(account, paper_version, bad):
    with pytest.raises(ValueError):
        create(account, paper_version, **bad)
    assert not Order.objects.exists()


def test_cycle_notional_counts_this_cycles_orders(account, paper_version, people):
    risk_limits_update(
        by=people["rita"], account=account, changes={"max_notional_per_cycle": "30000"}, reason="t"
    )
    assert create(account, paper_version).status == "pending_new"  # 100 x 200 = 20,000
    second = create(account, paper_version, symbol="MSFT", marks={"MSFT": D(200)})
    assert second.reason_code == "max_notional_per_cycle"
    # the next cycle starts from zero
    assert (
        create(
            account, paper_version, bar_time=BAR.replace(hour=15), symbol="MSFT", marks={"MSFT": D(200)}
        ).reason_code
        == ""
    )


def test_open_order_from_an_earlier_cycle_blocks_a_duplicate(account, paper_version):
    from apps.trading.services import order_transition

    first = create(account, paper_version)  # pending_new: committed, about to be sent
    assert create(account, paper_version, bar_time=BAR.replace(hour=15)).reason_code == "duplicate_order"
    order_transition(order=first, event="submit", source="test")
    assert create(account, paper_version, bar_time=BAR.replace(hour=16)).reason_code == "duplicate_order"
    order_transition(order=first, event="cancel", source="test")
    assert create(account, paper_version, bar_time=BAR.replace(hour=17)).reason_code == ""


def test_position_weight_counts_filled_shares(account, paper_version):
    from apps.trading.services import fill_record, order_transition

    from .conftest import broker_fill

    first = create(account, paper_version, qty=D(400))  # 80,000 of 1,000,000: 8%
    order_transition(order=first, event="submit", source="test")
    fill_record(order=first, fill=broker_fill(first, "E-1", 400), source="test")
    # equity 999,999.99 after the fee: 10% = 99,999.999; 400 held + 99 = 99,800 passes
    ok = create(account, paper_version, bar_time=BAR.replace(hour=15), qty=D(99))
    assert ok.reason_code == ""
    order_transition(order=ok, event="submit", source="test")
    fill_record(order=ok, fill=broker_fill(ok, "E-2", 99), source="test")  # filled: no longer open
    too_much = create(account, paper_version, bar_time=BAR.replace(hour=16), qty=D(2))  # 100,200
    assert too_much.reason_code == "max_position_weight"


def _decisions(*symbols, qty=100):
    from apps.trading.services import OrderDecision

    return [OrderDecision(s, "buy", D(qty), limit_price=D(200)) for s in symbols]


def _batch(account, version, decisions, **kw):
    from apps.trading.services import orders_create

    symbols = {d.symbol for d in decisions}
    args = {
        "account": account,
        "model_version": version,
        "bar_time": BAR,
        "decisions": decisions,
        "marks": {s: D(200) for s in symbols},
        "day_start_equity": D(1_000_000),
    }
    return orders_create(**{**args, **kw})


def test_batch_orders_see_the_ones_before_them(account, paper_version, people):
    risk_limits_update(by=people["rita"], account=account, changes={"max_orders_per_cycle": 3}, reason="t")
    out = _batch(account, paper_version, _decisions("A", "B", "C", "D", "E"))
    assert [o.reason_code for o in out] == ["", "", "", "max_orders_per_cycle", "max_orders_per_cycle"]
    assert [o.symbol for o in out] == ["A", "B", "C", "D", "E"]
    again = _batch(account, paper_version, _decisions("A", "B", "C", "D", "E"))  # retried cycle
    assert [o.pk for o in again] == [o.pk for o in out] and Order.objects.count() == 5


def test_batch_message_rate_refuses_the_tail(account, paper_version, people):
    risk_limits_update(by=people["rita"], account=account, changes={"max_messages_per_minute": 2}, reason="t")
    out = _batch(account, paper_version, _decisions("A", "B", "C"))
    assert [o.reason_code for o in out] == ["", "", "message_rate"]
    assert MessageWindow.objects.get().count == 2


def test_batch_trip_is_recorded_once_and_carries_the_orders(account, paper_version):
    with pytest.raises(KillSwitchTrip) as caught:
        _batch(account, paper_version, _decisions("A", "B"), day_start_equity=D(1_040_000))
    assert ControlTrip.objects.count() == 1
    assert [o.reason_code for o in caught.value.orders] == ["intraday_loss", "intraday_loss"]


def test_batch_with_the_same_symbol_and_side_twice_is_refused_whole(account, paper_version):
    with pytest.raises(ValueError, match="same symbol and side"):
        _batch(account, paper_version, _decisions("A", "A"))
    assert not Order.objects.exists()
