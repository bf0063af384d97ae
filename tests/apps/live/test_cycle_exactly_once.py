"""Exactly once: the same cycle (account, bar) replayed 1,000 times, serially and concurrently,
through `cycle_run` and through the `live_cycle` task, is one CycleRun with exactly the orders of
one cycle (those of a reference account's single run of the same bar), each sent once, and no
extra fill; two triggers of one hour (beat and manual) at once are one CycleRun.

Concurrency needs PostgreSQL (threads, each with its own connection: the account's cycle lock is
a PostgreSQL advisory lock, the claim a UNIQUE constraint); the Celery test needs a real worker
and Redis (cycle_worker.py)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter

import pytest
from django.db import connection

from apps.live.cycle.due import Due, cycles_due
from apps.live.cycle.run import CycleBusy, cycle_run
from apps.live.models import CycleRun
from apps.live.tasks import live_cycle

from .cycle_audit import audit, decided
from .cycle_support import import_fixture, paper_desk
from .cycle_worker import wait_for, worker_group

pytestmark = pytest.mark.django_db(transaction=True)
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="concurrent cycles need PostgreSQL (the account's cycle lock is an advisory lock); "
    "run with DATABASE_URL=postgres://...",
)

WARMUP = 12
REPLAYS = 1000
THREADS = 16


@pytest.fixture
def bar(tmp_path):
    return import_fixture(tmp_path, days=3)[WARMUP]


@pytest.fixture
def reference(people, bar):
    """The orders of one cycle: a reference account's single run of the same bar."""
    account, _version = paper_desk(people, name="reference")
    run = cycle_run(account=account, bar_time=bar, trigger="manual")
    assert run.status == "succeeded", (run.reason, run.error)
    assert decided(run), "the reference cycle decides no order"
    return {"decided": decided(run), "audit": audit(account)}


@pytest.fixture
def account(people, bar):
    account, _version = paper_desk(people, name="replayed")
    return account


def _exactly_one_cycle(account, bar, reference) -> CycleRun:
    runs = list(CycleRun.objects.filter(account=account))
    assert len(runs) == 1, runs
    run = runs[0]
    assert run.bar_time == bar and run.status == "succeeded", (run.reason, run.error)
    assert list(run.events.values_list("event", flat=True)) == ["claim", "succeed"]
    assert run.attempts == 1
    assert decided(run) == reference["decided"]
    assert audit(account) == reference["audit"]  # each order sent once, no extra fill
    return run


def test_1000_serial_replays_of_the_cycle_and_of_its_task_are_one_cycle(account, bar, reference):
    first = cycle_run(account=account, bar_time=bar, trigger="beat")
    for k in range(REPLAYS - 1):
        again = cycle_run(account=account, bar_time=bar, trigger=("beat", "manual", "retry")[k % 3])
        assert (again.pk, again.status) == (first.pk, "succeeded")
    run = _exactly_one_cycle(account, bar, reference)
    # The task as Celery runs it (a request, its retry policy), applied in this process.
    for k in range(REPLAYS):
        result = live_cycle.apply(args=(account.pk, bar.isoformat(), ("beat", "manual")[k % 2]))
        assert (result.state, result.get()) == ("SUCCESS", "succeeded")
    assert _exactly_one_cycle(account, bar, reference).timings == run.timings


def _threads(target, n: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            target(k)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a replaying thread hangs"
    return errors


@postgres_only
def test_1000_concurrent_replays_from_before_the_first_are_one_cycle(account, bar, reference):
    """16 threads, each its own PostgreSQL session, replay the cycle 1,000 times in all, starting
    together before it has run. A replay that finds the account busy retries (as the task does),
    which counts: every call that returned is one of the 1,000."""
    start = threading.Barrier(THREADS)
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def replay(k: int) -> None:
        start.wait()
        for _ in range(REPLAYS // THREADS + (k < REPLAYS % THREADS)):
            while True:
                try:
                    run = cycle_run(account=account, bar_time=bar, trigger=("beat", "manual")[k % 2])
                except CycleBusy:
                    with lock:
                        outcomes["busy"] += 1
                    time.sleep(0.005)
                    continue
                with lock:
                    outcomes[run.status] += 1
                break

    errors = _threads(replay, THREADS)
    assert not errors, errors
    assert outcomes["succeeded"] == REPLAYS, outcomes
    assert outcomes["busy"] > 0, "no replay overlapped the running cycle"
    _exactly_one_cycle(account, bar, reference)


@postgres_only
def test_two_triggers_for_one_hour_at_once_are_one_cycle(account, bar, reference):
    """The beat (what `live_cycles_due` enqueues: the cycles due just after the bar's close) and a
    manual trigger at the same moment, each in its own PostgreSQL session: one CycleRun. The one
    that finds the account busy is retried, as the task is after its countdown, and finds the run
    done. (Celery's eager `apply` cannot stand in here: it runs a retry at once, without the
    countdown, so 64 immediate attempts exhaust the retries while the first cycle runs.)"""
    close = bar.to_pydatetime() + dt.timedelta(minutes=1)
    due = [d for d in cycles_due(now=close) if d.account_id == account.pk]
    assert due == [Due(account.pk, bar.to_pydatetime())]
    start = threading.Barrier(2)
    busy: Counter = Counter()
    runs: dict[str, int] = {}

    def trigger(k: int) -> None:
        name = ("beat", "manual")[k]
        start.wait()
        while True:
            try:
                runs[name] = cycle_run(account=account, bar_time=due[0].bar_time, trigger=name).pk
                return
            except CycleBusy:
                busy[name] += 1
                time.sleep(0.05)

    assert not _threads(trigger, 2)
    run = _exactly_one_cycle(account, bar, reference)
    assert runs == {"beat": run.pk, "manual": run.pk}
    assert sum(busy.values()) > 0 and len(busy) == 1, busy  # they overlapped; the loser waited
    assert run.trigger == ({"beat", "manual"} - set(busy)).pop()  # the winner's trigger is recorded
    assert not [d for d in cycles_due(now=close) if d.account_id == account.pk]  # nothing due any more


@pytest.fixture
def workers(tmp_path):
    yield from worker_group(tmp_path)


@pytest.mark.slow
def test_the_task_sent_1000_times_to_a_real_worker_is_one_cycle(workers, account, bar, reference):
    """1,000 `live_cycle` messages for one (account, bar), half beat half manual (two triggers of
    one hour, many times over), sent through Redis before the cycle has run, consumed by a real
    worker with two pool processes: the busy ones are retried by Celery after their countdown,
    every one of the 1,000 ends `succeeded`, and there is one cycle."""
    # Retries wait BUSY_COUNTDOWN_S in the worker: a visibility timeout shorter than that would
    # deliver the held messages a second time.
    worker = workers.start(concurrency=2, env={"CYCLE_TEST_VISIBILITY_TIMEOUT_S": "3600"})
    sent = {
        live_cycle.delay(account.pk, bar.isoformat(), ("beat", "manual")[k % 2]).id for k in range(REPLAYS)
    }
    assert len(sent) == REPLAYS

    def succeeded() -> set[str]:
        return {tid for tid, state, _ in workers.tasks_ended() if state == "SUCCESS"}

    wait_for(
        lambda: succeeded() >= sent, timeout=240, what="1,000 tasks to succeed", workers=[worker], step=0.5
    )
    ended = workers.tasks_ended()
    assert {value for _tid, state, value in ended if state == "SUCCESS"} == {"succeeded"}
    assert {state for _tid, state, _value in ended} <= {"SUCCESS", "RETRY"}, Counter(s for _t, s, _v in ended)
    assert Counter(tid for tid, state, _ in ended if state == "SUCCESS") == Counter(sent)  # each once
    _exactly_one_cycle(account, bar, reference)
