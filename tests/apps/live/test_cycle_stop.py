"""STOP during the hourly cycle: no order reaches the broker after the STOP has committed, the
cycle's later orders are refused (`kill_switch`), and the switch's state survives a restart of
every process of the desk (it lives in PostgreSQL; Redis carries no state of it).

The broker is the account's real PaperBroker with each submission's arrival recorded and slowed
(`SlowBroker`), so a STOP meets orders on their way. The STOP's commit is bounded from below by
its KillSwitchEvent's `at` (stamped after the switch's exclusive lock was granted, before the
commit): every arrival must come before it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from django.db import connection

from apps.live.brokers import broker_for
from apps.live.cycle.run import cycle_run
from apps.live.machine import State
from apps.live.models import CycleRun, KillSwitch, KillSwitchEvent
from apps.live.services import killswitch_stop
from apps.live.tasks import killswitch_press, live_cycle
from apps.paper.models import VenueOrder
from apps.trading.models import Order, OrderEvent

from .cycle_audit import audit
from .cycle_support import import_fixture, paper_desk
from .cycle_worker import ROOT, database_url, wait_for, worker_group

pytestmark = pytest.mark.django_db(transaction=True)

WARMUP = 12


class SlowBroker:
    """A broker around another: `submit` takes `delay_s` to reach it, then records (time.time(),
    client order id) on arrival, runs `on_submit(request)` there (in the submitting thread) and
    passes the order to the inner broker. Everything else is the inner broker's."""

    def __init__(self, inner, *, delay_s: float = 0.0, on_submit=None) -> None:
        self.inner = inner
        self.delay_s = delay_s
        self.on_submit = on_submit
        self.arrivals: list[tuple[float, str]] = []

    def __getattr__(self, name: str):
        if name == "submit_many":  # one request per call, like Alpaca's REST: one order per gate hold
            raise AttributeError(name)
        return getattr(self.inner, name)

    def submit(self, request):
        if self.delay_s:  # the way to the broker
            time.sleep(self.delay_s)
        self.arrivals.append((time.time(), request.client_order_id))
        if self.on_submit is not None:
            self.on_submit(request)
        return self.inner.submit(request)


@pytest.fixture
def stamps(tmp_path):
    return import_fixture(tmp_path, days=3)


@pytest.fixture
def desk(people, stamps):
    account, _version = paper_desk(people)
    return account, stamps[WARMUP]


def _switch_visible(account, desk_wide: bool):
    rows = KillSwitch.objects.filter(desk=True) if desk_wide else KillSwitch.objects.filter(account=account)
    return rows.exclude(state=State.ACTIVE).exists()


def _stopped_mid_cycle(account, run: CycleRun, broker: SlowBroker, desk_wide: bool) -> None:
    assert run.status == "succeeded", (run.reason, run.error)
    stop = KillSwitchEvent.objects.get(event="stop", switch__desk=desk_wide)
    late = [cid for at, cid in broker.arrivals if at >= stop.at.timestamp()]
    assert late == [], f"reached the broker after the STOP: {late}"
    orders = Order.objects.filter(cycle=run)
    sent = {cid for _at, cid in broker.arrivals}
    assert sent and len(sent) < orders.count(), (len(sent), orders.count())
    assert set(orders.filter(events__event="submit").values_list("client_order_id", flat=True)) == sent
    refused = orders.exclude(client_order_id__in=sent)
    assert {(o.status, o.reason_code) for o in refused} == {("rejected", "kill_switch")}
    assert all("kill switch" in o.reason_detail for o in refused)
    assert set(VenueOrder.objects.values_list("client_order_id", flat=True)) == sent
    audit(account)


@pytest.mark.parametrize("desk_wide", [False, True], ids=["account", "desk"])
def test_stop_pressed_between_two_orders_of_a_cycle_stops_the_rest(desk, people, desk_wide):
    """The STOP commits while the cycle's first order is at the broker (one thread: SQLite too)."""
    account, bar = desk
    presses: list[float] = []

    def press(request):
        if not presses:
            killswitch_stop(by=people["rita"], account=None if desk_wide else account, reason="mid-cycle")
            presses.append(time.time())

    broker = SlowBroker(broker_for(account, clock=lambda: bar), on_submit=press)
    run = cycle_run(account=account, bar_time=bar, trigger="beat", broker=broker)
    assert len(broker.arrivals) == 1  # the order on its way when STOP was pressed; nothing after
    _stopped_mid_cycle(account, run, broker, desk_wide)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the STOP-vs-submit guarantee between sessions is PostgreSQL's advisory lock (apps.live.gate); "
    "run with DATABASE_URL=postgres://...",
)
@pytest.mark.parametrize("desk_wide", [False, True], ids=["account", "desk"])
def test_stop_from_another_session_during_a_cycle_no_order_leaves_after_it(desk, people, desk_wide):
    """The cycle in one thread (its own PostgreSQL session), each submission slowed to 0.2 s; STOP
    pressed from another once the first order is at the broker. It waits for the submission in
    progress, commits, and no order reaches the broker after it; a committed STOP seen from the
    submitting session at a broker arrival would be a violation."""
    account, bar = desk
    seen_stopped: list[str] = []

    def check(request):
        if _switch_visible(account, desk_wide):
            seen_stopped.append(request.client_order_id)

    broker = SlowBroker(broker_for(account, clock=lambda: bar), delay_s=0.2, on_submit=check)
    out: dict = {}
    errors: list[BaseException] = []

    def cycle():
        try:
            out["run"] = cycle_run(account=account, bar_time=bar, trigger="beat", broker=broker)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    def stopper():
        try:
            deadline = time.monotonic() + 120
            while not OrderEvent.objects.filter(event="submit").exists() and time.monotonic() < deadline:
                time.sleep(0.002)  # the first order's submit committed: it is on its way
            out["pressed"] = time.time()
            killswitch_stop(by=people["rita"], account=None if desk_wide else account, reason="mid-cycle")
            out["returned"] = time.time()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=cycle), threading.Thread(target=stopper)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors, errors
    assert seen_stopped == [], f"sent with the STOP committed: {seen_stopped}"
    assert all(at < out["returned"] for at, _cid in broker.arrivals)
    # The STOP waited for the order on its way to the broker (0.2 s) before it committed.
    assert broker.arrivals[0][0] < out["returned"], (broker.arrivals, out)
    _stopped_mid_cycle(account, out["run"], broker, desk_wide)


@pytest.fixture
def workers(tmp_path):
    yield from worker_group(tmp_path)


def _manage(*args: str) -> str:
    """`manage.py killswitch ...` in a fresh Django process on the test database."""
    done = subprocess.run(
        [sys.executable, "manage.py", "killswitch", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _status(account) -> dict:
    return json.loads(_manage("status", "--account", account.name).strip().splitlines()[-1])


@pytest.mark.slow
def test_the_stopped_switch_survives_a_restart_of_every_process_and_the_next_cycle_sends_nothing(
    workers, desk, people, stamps
):
    """STOP the account by the command (its own process) and the desk through the control queue
    (a real worker); SIGKILL that worker, close this process's connections, start a new worker:
    a fresh `manage.py killswitch status` still says stopped, and the next cycle, run by the new
    worker, sends nothing (the venue fills the earlier orders as usual)."""
    account, bar = desk
    first = cycle_run(account=account, bar_time=bar, trigger="beat")
    assert first.status == "succeeded", (first.reason, first.error)
    sent_before = VenueOrder.objects.count()
    assert sent_before > 0

    worker = workers.start()
    _manage("stop", "--account", account.name, "--reason", "overnight", "--user", "rita")
    killswitch_press.delay("stop", None, people["rita"].pk, "desk closed")
    wait_for(
        lambda: KillSwitch.objects.filter(desk=True, state=State.STOPPED).exists(),
        timeout=60,
        what="the desk STOP pressed through the control queue",
        workers=[worker],
    )
    worker.kill()
    connection.close()  # this process's session too: the next query opens a new one

    assert _status(account) == {
        "account": account.name,
        "state": "stopped",
        "account_state": "stopped",
        "desk_state": "stopped",
    }
    worker = workers.start()
    nxt = stamps[WARMUP + 1]
    live_cycle.delay(account.pk, nxt.isoformat(), "beat")
    run = wait_for(
        lambda: CycleRun.objects.filter(account=account, bar_time=nxt).exclude(status="running").first(),
        timeout=90,
        what="the next cycle",
        workers=[worker],
    )
    assert run.status == "skipped" and "kill switch stopped" in run.reason, run.reason
    assert not Order.objects.filter(cycle=run).exists()
    assert VenueOrder.objects.count() == sent_before
    assert not OrderEvent.objects.filter(event="submit", at__gte=run.started_at).exists()
    assert run.summary["orders"]["total"] == 0 and run.summary["shortfall"]["fills"] > 0
    assert _status(account)["state"] == "stopped"
    audit(account)
