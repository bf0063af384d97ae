"""A cycle's pushed messages on the account's stream (issue 11): its orders as one batch, each
submission's order change, the next bar's fills (with their positions and order changes), the
mark at the bar's closes and the cycle result, numbered consecutively."""

from __future__ import annotations

import pytest

from apps.core.realtime import account_stream, stream_seq
from apps.live.cycle.run import cycle_run
from apps.trading.models import Fill, Order
from tests.apps.cockpit.push_support import Listener
from tests.apps.live.cycle_support import import_fixture, paper_desk
from tests.apps.trading.conftest import people  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
WARMUP = 12


def test_a_cycle_publishes_its_orders_fills_mark_and_result(people, tmp_path):  # noqa: F811
    stamps = import_fixture(tmp_path, days=6)
    account, _version = paper_desk(people)
    listen = Listener(account_stream(account.pk))

    first = cycle_run(account=account, bar_time=stamps[WARMUP], trigger="manual")
    assert first.status == "succeeded", (first.reason, first.error)
    messages = listen.drain()
    seqs = [m["payload"]["seq"] for m in messages]
    assert seqs == list(range(1, len(messages) + 1))
    events = [m["event"] for m in messages]
    orders = list(Order.objects.filter(cycle=first).order_by("pk"))
    assert events.count("orders") == 1
    batch = messages[events.index("orders")]["payload"]["orders"]
    assert [r["client_order_id"] for r in batch] == [o.client_order_id for o in orders]
    assert {r["status"] for r in batch} == {"pending_new"}
    changed = [m["payload"]["order"] for m in messages if m["event"] == "order"]
    last_status = {r["client_order_id"]: r["status"] for r in changed}
    assert last_status == {o.client_order_id: "accepted" for o in orders}
    assert events[-2:] == ["cycle", "mark"]
    cycle = messages[-2]["payload"]["cycle"]
    assert (cycle["id"], cycle["status"], cycle["step"]) == (first.pk, "succeeded", "settled")
    assert cycle["duration_ms"] > 0 and cycle["orders"] == len(orders)
    mark = messages[-1]["payload"]
    assert mark["headline"]["as_of"].startswith(str(first.bar_time.date()))
    assert mark["headline"]["positions"] == 0 and mark["positions"] == []  # filled at the next bar

    second = cycle_run(account=account, bar_time=stamps[WARMUP + 1], trigger="manual")
    assert second.status == "succeeded", (second.reason, second.error)
    messages = listen.drain()
    assert [m["payload"]["seq"] for m in messages] == list(range(seqs[-1] + 1, seqs[-1] + 1 + len(messages)))
    fills = [m["payload"] for m in messages if m["event"] == "fill"]
    stored = Fill.objects.filter(order__cycle=first)
    assert stored.exists()
    assert sorted(f["fill"]["execution_id"] for f in fills) == sorted(
        stored.values_list("execution_id", flat=True)
    )
    assert all(f["position"]["symbol"] == f["fill"]["symbol"] for f in fills)
    mark = [m["payload"] for m in messages if m["event"] == "mark"][-1]
    held = {p["symbol"]: p for p in mark["positions"]}
    assert set(held) == set(stored.values_list("symbol", flat=True))
    assert mark["headline"]["positions"] == len(held)
    assert all(p["weight"] is not None and p["last"] for p in held.values())
    assert [m["event"] for m in messages][-2:] == ["cycle", "mark"]
    assert messages[-2]["payload"]["cycle"]["id"] == second.pk
    assert stream_seq(account_stream(account.pk)) == messages[-1]["payload"]["seq"]
