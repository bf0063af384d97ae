"""A worker SIGKILLed at each step of the hourly cycle, then replaced: nothing lost, nothing sent
twice, and the next cycle reconciles cleanly. Real `celery -A workers worker` processes (prefork)
on PostgreSQL and Redis (cycle_worker.py); the cycle pauses at the crash point (crash_hook.py) and
the test SIGKILLs the worker's whole process group there (main process and pool: no ack, no
cleanup, the PostgreSQL session and its advisory locks die with it).

How the killed cycle comes back: the message was never acked (acks_late); Redis keeps it in its
unacked set and a worker restores it once it is older than the transport's visibility timeout
(crash_settings: 2 s; kombu's default, which the desk's settings keep, is 3,600 s). The new
worker takes the lock the dead one held, finds the CycleRun `running` and takes it over
(`resume`). When only the pool process dies (the main process lives), reject_on_worker_lost
requeues the message at once.

Each crash point runs on an account of its own that has already run one cycle (its orders fill at
the crashed bar's open, so the venue step has fills to make); a reference account runs the same
bars without a crash: the crashed bar must decide exactly the reference's orders."""

from __future__ import annotations

import datetime as dt
import os
import signal

import pytest
from django.conf import settings
from django.utils import timezone

from apps.live.brokers import broker_for
from apps.live.cycle.machine import STEPS
from apps.live.cycle.run import cycle_run
from apps.live.models import CycleRun, Reconciliation
from apps.live.services import account_reconcile
from apps.live.tasks import live_cycle
from apps.paper.models import VenueOrder
from apps.trading.models import Order
from apps.trading.services.orders import SUBMIT_BATCH

from .crash_hook import SUBMIT_POINTS
from .cycle_audit import audit, decided, fills_of
from .cycle_support import import_fixture, paper_desk
from .cycle_worker import wait_for, worker_group

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WARMUP = 12
POINTS = (*STEPS, *SUBMIT_POINTS)


def _ended(run: CycleRun, worker, timeout: float = 90) -> CycleRun:
    return wait_for(
        lambda: CycleRun.objects.filter(pk=run.pk).exclude(status="running").first(),
        timeout=timeout,
        what=f"the cycle of {run.account.name} at {run.bar_time} to end",
        workers=[worker],
    )


def _cycle_on_worker(account, bar, worker, trigger: str = "beat") -> CycleRun:
    live_cycle.delay(account.pk, bar.isoformat(), trigger)
    run = wait_for(
        lambda: CycleRun.objects.filter(account=account, bar_time=bar).first(),
        timeout=60,
        what=f"the cycle of {account.name} at {bar} to be claimed",
        workers=[worker],
    )
    return _ended(run, worker)


@pytest.fixture
def workers(tmp_path):
    yield from worker_group(tmp_path)


@pytest.fixture
def bars(tmp_path):
    return import_fixture(tmp_path, days=6)[WARMUP : WARMUP + 3]


@pytest.fixture
def reference(people, bars):
    """The same strategy on an account of its own, the same bars, no crash."""
    account, _version = paper_desk(people, name="reference")
    runs = [cycle_run(account=account, bar_time=bar, trigger="manual") for bar in bars]
    assert [r.status for r in runs] == ["succeeded"] * 3, [(r.reason, r.error) for r in runs]
    crashed_bar = runs[1]
    assert decided(crashed_bar) and fills_of(crashed_bar), "the reference bar decides and fills nothing"
    return {"decided": decided(crashed_bar), "fills": fills_of(crashed_bar), "audit": audit(account)}


def _first_cycle(people, point: str, bar):
    account, _version = paper_desk(people, name=f"crash-{point}")
    first = cycle_run(account=account, bar_time=bar, trigger="manual")
    assert first.status == "succeeded", (first.reason, first.error)
    return account


def _check_lost(account, run: CycleRun) -> None:
    """The batch cut between its `submit` transitions and the venue: still in flight after two
    cycles, each sent once, none at the venue; once the lookup has not found them for long enough
    they are rejected."""
    lost = list(Order.objects.filter(cycle=run, status="submitted"))
    assert lost
    for order in lost:
        assert not VenueOrder.objects.filter(client_order_id=order.client_order_id).exists()
        assert order.events.filter(event="submit").count() == 1
    later = timezone.now() + dt.timedelta(seconds=settings.TRADING_IN_FLIGHT_NOT_FOUND_S)
    check = account_reconcile(account=account, broker=broker_for(account), trigger="manual", now=later)
    assert check.ok and check.resolved_orders == len(lost), check.breaks
    for order in lost:
        order.refresh_from_db()
        assert (order.status, order.reason_code) == ("rejected", "not_found_at_broker")
    audit(account)


def _check_resumed(account, point: str, run: CycleRun, reference: dict) -> None:
    where = f"killed at {point}"
    assert run.status == "succeeded", (where, run.reason, run.error)
    assert CycleRun.objects.filter(account=account, bar_time=run.bar_time).count() == 1, where
    assert list(run.events.values_list("event", flat=True)) == ["claim", "resume", "succeed"], where
    assert run.attempts == 2 and run.step == "settled", where
    assert decided(run) == reference["decided"], f"{where}: not the orders of one cycle"
    orders = Order.objects.filter(cycle=run)
    if point == "sending":
        # The first batch's `submit` transitions committed (orders_submit sends the paper venue
        # SUBMIT_BATCH orders per call), the venue never got it: they stay in flight (never sent
        # again on a guess) until a lookup by client order id has not found them for
        # TRADING_IN_FLIGHT_NOT_FOUND_S (_check_lost). The rest were sent.
        lost = orders.filter(status="submitted")
        first_batch = list(orders.exclude(submitted_at=None).order_by("pk")[:SUBMIT_BATCH])
        assert 0 < lost.count() <= SUBMIT_BATCH, where
        assert set(lost) <= set(first_batch), where
    else:
        assert not orders.filter(status__in=["submitted", "pending_new"]).exists(), where
    assert run.decision and run.summary["orders"]["total"] == len(reference["decided"]), where


def test_a_worker_killed_at_each_step_loses_and_duplicates_nothing(workers, people, bars, reference):
    accounts = {point: _first_cycle(people, point, bars[0]) for point in POINTS}
    worker = workers.start()
    for point in POINTS:
        account = accounts[point]
        where = f"killed at {point}"
        hit = workers.crash_at(account=account.name, point=point)
        live_cycle.delay(account.pk, bars[1].isoformat(), "beat")
        wait_for(hit.exists, timeout=90, what=f"{account.name}'s cycle to reach {point}", workers=[worker])
        worker.kill()

        run = CycleRun.objects.get(account=account, bar_time=bars[1])
        assert run.status == "running", where
        assert run.step == (point if point in STEPS else "persisted"), where

        worker = workers.start()  # restores the dead worker's message and resumes it
        run = _ended(run, worker)
        _check_resumed(account, point, run, reference)
        assert Reconciliation.objects.filter(cycle=run).latest("at").ok, where

        following = _cycle_on_worker(account, bars[2], worker)
        assert following.status == "succeeded", (where, following.reason, following.error)
        check = Reconciliation.objects.get(cycle=following)
        assert check.ok and check.breaks == [], (where, check.breaks)
        counts = audit(account)  # nothing sent twice, no venue order or fill unaccounted for
        if point == "sending":
            _check_lost(account, run)
        else:  # the same three cycles as the reference's, to the fill
            assert counts == reference["audit"], (where, counts, reference["audit"])
            assert fills_of(run) == reference["fills"], where


def test_a_pool_process_killed_mid_submit_is_requeued_at_once_and_resumed(workers, people, bars, reference):
    """Only the pool process dies (an OOM kill): the main process sees the worker lost and, with
    reject_on_worker_lost, puts the message back: the same worker resumes the run."""
    account = _first_cycle(people, "pool", bars[0])
    worker = workers.start()
    hit = workers.crash_at(account=account.name, point="sent")
    live_cycle.delay(account.pk, bars[1].isoformat(), "beat")
    wait_for(hit.exists, timeout=90, what="the cycle to send its first order", workers=[worker])
    pool_pid = int(hit.read_text())
    assert pool_pid != worker.proc.pid
    os.kill(pool_pid, signal.SIGKILL)
    run = _ended(CycleRun.objects.get(account=account, bar_time=bars[1]), worker)
    _check_resumed(account, "sent", run, reference)
    following = _cycle_on_worker(account, bars[2], worker)
    assert following.status == "succeeded", (following.reason, following.error)
    assert Reconciliation.objects.get(cycle=following).ok
    assert audit(account) == reference["audit"]
    assert fills_of(run) == reference["fills"]


def _no_trade_at(account, run: CycleRun, newer) -> None:
    assert run.status == "skipped", (run.status, run.reason, run.error)
    assert f"superseded by the cycle at {newer:%Y-%m-%d %H:%M}" in run.reason
    assert not Order.objects.filter(account=account, bar_time=run.bar_time).exists()
    audit(account)


def test_a_dead_workers_cycle_redelivered_after_the_next_bar_trades_nothing(workers, people, bars):
    """The message of a killed worker comes back late (kombu's visibility timeout is an hour): by
    then the account's next bar has run. Resuming the old bar would send its stale decisions
    after the newer ones; it is closed as superseded instead (the newer cycle has already
    cancelled or refused whatever the dead one left)."""
    account = _first_cycle(people, "late", bars[0])
    worker = workers.start()
    hit = workers.crash_at(account=account.name, point="data")
    live_cycle.delay(account.pk, bars[1].isoformat(), "beat")
    wait_for(hit.exists, timeout=90, what="the cycle to read its data", workers=[worker])
    worker.kill()
    newer = cycle_run(account=account, bar_time=bars[2], trigger="beat")  # the next bar, elsewhere
    assert newer.status == "succeeded", (newer.reason, newer.error)
    n = Order.objects.filter(account=account).count()

    worker = workers.start()  # restores the old message
    late = _ended(CycleRun.objects.get(account=account, bar_time=bars[1]), worker)
    _no_trade_at(account, late, bars[2])
    assert list(late.events.values_list("event", flat=True)) == ["claim", "skip"]
    assert Order.objects.filter(account=account).count() == n
    assert Reconciliation.objects.filter(cycle=newer).get().ok


def test_a_run_left_running_or_failed_before_a_newer_bar_is_never_traded_late(people, bars):
    """The same without a worker (SQLite too): a run left `running` at a bar the account has
    cycled past is closed as superseded when its message returns; a failed one is not retried."""
    account = _first_cycle(people, "stale", bars[0])
    dead = CycleRun.objects.create(account=account, bar_time=bars[1], trigger="beat", step="data")
    newer = cycle_run(account=account, bar_time=bars[2], trigger="beat")
    assert newer.status == "succeeded", (newer.reason, newer.error)
    _no_trade_at(account, cycle_run(account=account, bar_time=bars[1], trigger="beat"), bars[2])
    dead.refresh_from_db()
    assert dead.status == "skipped"

    failed = CycleRun.objects.create(account=account, bar_time=bars[0] - (bars[1] - bars[0]), trigger="beat")
    CycleRun.objects.filter(pk=failed.pk).update(status="failed", error="boom")
    again = cycle_run(account=account, bar_time=failed.bar_time, trigger="retry")
    assert (again.status, again.attempts) == ("failed", 1)
    assert not Order.objects.filter(account=account, bar_time=failed.bar_time).exists()
