"""When cycles run: the bar that closed last on the XNYS calendar (holidays, 13:00 early closes),
what is due, missed cycles, the replay clock, and the task routing (cycles on `live`, kill switch
presses on `control`) through a real Celery worker."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from celery.contrib.testing.worker import start_worker

from apps.alerts.models import Alert
from apps.live import clock
from apps.live.cycle.due import cycles_due
from apps.live.cycle.run import cycle_run
from apps.live.models import CycleRun
from apps.live.selectors import killswitch_effective
from apps.live.tasks import killswitch_press, live_cycles_due
from tests.support.waiting import wait_for
from workers.celery import app

from .cycle_support import import_fixture, paper_desk

pytestmark = pytest.mark.django_db(transaction=True)

UTC = dt.UTC


@pytest.mark.parametrize(
    ("now", "bar"),
    [
        # A regular session: the 14:00 ET bar ended at 14:00 (18:00 UTC in November, EST).
        ("2025-11-26 19:05", "2025-11-26 19:00"),
        # Thanksgiving: the market is closed, the last bar is Wednesday's 16:00 ET close.
        ("2025-11-27 18:00", "2025-11-26 21:00"),
        # The day after: a 13:00 ET early close, its last bar ends 13:00 ET (18:00 UTC).
        ("2025-11-28 20:30", "2025-11-28 18:00"),
        # Summer time (EDT): 10:00 ET is 14:00 UTC.
        ("2025-10-06 14:00", "2025-10-06 14:00"),
        # Saturday: Friday's close.
        ("2025-10-04 12:00", "2025-10-03 20:00"),
    ],
)
def test_the_last_bar_close_follows_the_exchange_calendar(settings, now, bar):
    settings.LIVE_CLOCK = "wall"
    at = dt.datetime.fromisoformat(now).replace(tzinfo=UTC)
    assert clock.last_bar_close(at) == pd.Timestamp(bar, tz="UTC")


@pytest.fixture
def desk(people, tmp_path, settings):
    settings.LIVE_CLOCK = "wall"
    stamps = import_fixture(tmp_path, days=4)
    account, version = paper_desk(people)
    return account, version, stamps


def test_due_is_the_last_bar_for_each_trading_account_without_a_run(desk, people):
    account, _version, stamps = desk
    now = stamps[14].to_pydatetime() + dt.timedelta(minutes=1)
    due = cycles_due(now=now)
    assert [(d.account_id, pd.Timestamp(d.bar_time)) for d in due] == [(account.pk, stamps[14])]
    cycle_run(account=account, bar_time=stamps[14], trigger="beat")
    assert cycles_due(now=now) == []


def test_bars_slept_through_are_reported_missed_not_traded_late(desk, settings):
    account, _version, stamps = desk
    cycle_run(account=account, bar_time=stamps[12], trigger="beat")
    now = stamps[15].to_pydatetime() + dt.timedelta(minutes=1)
    due = cycles_due(now=now)
    assert [pd.Timestamp(d.bar_time) for d in due] == [stamps[15]]  # only the last bar is traded
    alert = Alert.objects.get(kind="cycle_missed", account=account)
    assert "2 bar close(s) without a cycle" in alert.message  # 13 and 14


def test_an_overdue_bar_without_its_cycle_is_alerted(desk, settings):
    account, _version, stamps = desk
    cycle_run(account=account, bar_time=stamps[12], trigger="beat")
    settings.LIVE_CYCLE_MISSED_AFTER_S = 600
    late = stamps[13].to_pydatetime() + dt.timedelta(minutes=11)
    cycles_due(now=late)
    assert Alert.objects.filter(kind="cycle_missed", account=account).exists()


def test_the_replay_clock_walks_the_recording_and_others_read_its_time_from_the_cycles(desk, settings):
    from .cycle_support import FIXTURE

    account, _version, _stamps = desk
    settings.LIVE_CLOCK = "replay"
    settings.LIVE_REPLAY_FILE = str(FIXTURE)
    settings.REPLAY_SECONDS_PER_BAR = 10
    stamps = clock.replay_stamps()
    wall = dt.datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    clock.replay_start(first_index=20, wall=wall)
    try:
        assert clock.last_bar_close(wall) == stamps[20]
        assert clock.last_bar_close(wall + dt.timedelta(seconds=35)) == stamps[23]
        assert clock.last_bar_close(wall + dt.timedelta(days=1)) == stamps[-1]
    finally:
        clock._replay_start.clear()
    # A process that does not run the replay (manage.py killswitch beside the demo): the newest
    # bar a cycle ran at.
    with pytest.raises(clock.ClockError):
        clock.market_now()
    cycle_run(account=account, bar_time=stamps[20], trigger="replay")
    assert clock.market_now() == stamps[20].to_pydatetime()


@pytest.mark.slow
def test_beat_fans_out_on_the_live_queue_and_stop_goes_through_control(desk, people, monkeypatch):
    """The routing as configured (workers/celery.py): a worker consuming only `live` runs the
    cycle; a worker consuming only `control` takes the STOP."""
    account, _version, stamps = desk
    monkeypatch.setattr("apps.live.cycle.due.last_bar_close", lambda now=None, freq="1h": stamps[14])
    with start_worker(
        app, pool="threads", concurrency=1, queues=["live"], perform_ping_check=False, shutdown_timeout=30
    ):
        live_cycles_due.apply()  # beat's call, run here; it enqueues the cycle on `live`
        wait_for(lambda: CycleRun.objects.filter(account=account, status="succeeded").exists())
    with start_worker(
        app, pool="threads", concurrency=1, queues=["control"], perform_ping_check=False, shutdown_timeout=30
    ):
        result = killswitch_press.delay("stop", account.pk, people["rita"].pk, "end of test")
        assert "stopped" in result.get(timeout=30)
    assert killswitch_effective(account=account).state == "stopped"
    assert app.amqp.router.route({}, "apps.live.tasks.killswitch_press")["queue"].name == "control"
    assert app.amqp.router.route({}, "apps.live.tasks.live_cycle")["queue"].name == "live"


def test_the_cycle_limits_must_sit_below_the_visibility_timeout(settings):
    from apps.live.checks import live_cycle_limits

    assert live_cycle_limits() == []
    settings.LIVE_CYCLE_TIME_LIMIT = 4000
    assert [e.id for e in live_cycle_limits()] == ["live.E002"]
    settings.LIVE_CYCLE_SOFT_TIME_LIMIT = 5000
    assert [e.id for e in live_cycle_limits()] == ["live.E001", "live.E002"]


def test_a_run_whose_worker_died_is_due_again_after_the_hard_time_limit(desk, settings):
    account, _version, stamps = desk
    run = cycle_run(account=account, bar_time=stamps[14], trigger="beat")
    now = stamps[14].to_pydatetime() + dt.timedelta(minutes=1)
    CycleRun.objects.filter(pk=run.pk).update(status="running", started_at=now - dt.timedelta(seconds=30))
    assert cycles_due(now=now) == []  # a live worker may still be on it
    later = now + dt.timedelta(seconds=settings.LIVE_CYCLE_TIME_LIMIT)
    assert [d.account_id for d in cycles_due(now=later)] == [account.pk]
    again = cycle_run(account=account, bar_time=stamps[14], trigger="beat")
    assert again.status == "succeeded" and again.attempts == 2
