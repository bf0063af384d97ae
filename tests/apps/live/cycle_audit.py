"""What "exactly once" means for a paper account, checked against the venue's own books: the
orders of a cycle (compared with a reference account's run of the same bar), each order sent at
most once (`submit` OrderEvents, no second submission the venue refused as a duplicate), every
venue order one of ours, every venue execution one fill of ours (unique by execution id) and the
other way round."""

from __future__ import annotations

from collections import Counter

from apps.live.brokers import venue_for
from apps.paper.models import VenueExecution, VenueOrder
from apps.trading.models import Fill, Order, OrderEvent, TradingAccount


def decided(run) -> list[tuple]:
    """The orders of a cycle run as decided: what a second run of the same bar must reproduce."""
    return sorted(
        Order.objects.filter(cycle=run).values_list(
            "symbol", "side", "qty", "type", "limit_price", "time_in_force", "decision_price"
        )
    )


def fills_of(run) -> list[tuple]:
    return sorted(Fill.objects.filter(order__cycle=run).values_list("symbol", "side", "qty", "price", "fee"))


def audit(account: TradingAccount) -> dict:
    """Raise AssertionError on any duplicate or lost order or fill of `account`; return counts."""
    venue = venue_for(account)
    ours = {o.client_order_id: o for o in Order.objects.filter(account=account)}
    submits = Counter(
        OrderEvent.objects.filter(order__account=account, event="submit").values_list(
            "order__client_order_id", flat=True
        )
    )
    twice = {cid: n for cid, n in submits.items() if n > 1}
    assert not twice, f"orders submitted more than once: {twice}"
    duplicates = OrderEvent.objects.filter(order__account=account, event="duplicate_client_order_id")
    assert not duplicates.exists(), f"second submissions refused by the venue: {list(duplicates)}"
    at_venue = list(VenueOrder.objects.filter(account=venue).values_list("client_order_id", flat=True))
    assert len(at_venue) == len(set(at_venue)), f"one client order id twice at the venue: {at_venue}"
    strangers = set(at_venue) - set(ours)
    assert not strangers, f"venue orders that are not ours: {strangers}"
    unsent = set(at_venue) - set(submits)
    assert not unsent, f"at the venue without a submit event: {unsent}"

    fills = list(Fill.objects.filter(account=account).values_list("execution_id", flat=True))
    assert len(fills) == len(set(fills)), "a fill recorded twice"
    executions = set(VenueExecution.objects.filter(account=venue).values_list("execution_id", flat=True))
    assert set(fills) == executions, (
        f"lost fills: {executions - set(fills)}; fills the venue never made: {set(fills) - executions}"
    )
    return {
        "orders": len(ours),
        "submitted": sum(submits.values()),
        "at_venue": len(at_venue),
        "fills": len(fills),
    }
