"""A job whose worker process dies is never stuck: a real `celery -A workers worker` (prefork pool,
beat embedded with -B so the reaper runs on its schedule) on PostgreSQL + Redis; the pool process
running a backtest (or a search's candidate) is SIGKILLed mid-job; the run must end, taken over
and succeeded, within a bounded time, and the search must still rank. Needs DATABASE_URL (PostgreSQL) and REDIS_URL: a separate process can reach neither
SQLite's test database nor the in-memory broker."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.core.models import WorkerHeartbeat
from apps.marketdata.services import bars_import
from apps.research.models import BacktestRun, ParameterSearch, Status
from apps.research.services.runs import backtest_submit
from apps.research.services.search import search_submit
from apps.strategies.services.strategies import strategy_create
from apps.universes.models import Membership, Universe
from tests.apps.research.conftest import strategy_config, write_subset

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
LEASE_S = 4  # the worker's lease: renewed every 1.3 s, reaped by beat every 2 s once expired
# 23 names over four years with the optimizer at every bar: a backtest of ~5 s, long enough to be
# killed in the middle.
SYMBOLS = "AAPL AMZN BA BAC CSCO CVX GE GOOGL HD INTC JNJ JPM KO MMM MRK MSFT NFLX NVDA PFE PG T WMT XOM"


def _wait(predicate, *, timeout: float, what: str, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            raise AssertionError(
                f"the worker exited ({proc.returncode}) waiting for {what}:\n{log.read_text()[-3000:]}"
            )
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}:\n{log.read_text()[-3000:]}")


@pytest.fixture
def worker(tmp_path):
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs PostgreSQL and Redis (DATABASE_URL=postgres://..., REDIS_URL=redis://...)")
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    name = f"loss-{os.getpid()}@hourglass-test"
    log = tmp_path / "worker.log"
    env = {**os.environ, "DATABASE_URL": url, "RESEARCH_JOB_LEASE_S": str(LEASE_S)}
    celery = [sys.executable, "-m", "celery", "-A", "workers", "worker", "-B", "-P", "prefork", "-c", "1"]
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                *celery,
                "-Q",
                "research,default",
                "-n",
                name,
                "-l",
                "INFO",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool and beat end with it
        )
    try:
        _wait(
            lambda: WorkerHeartbeat.objects.filter(hostname=name).exists(),
            timeout=90,
            what="the worker's first heartbeat",
            proc=proc,
            log=log,
        )
        yield proc, log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def busy_strategy(people, tmp_path):
    symbols = SYMBOLS.split()
    path = write_subset(tmp_path / "busy.csv", symbols=symbols, start="2013-01-01", end="2019-01-01")
    assert bars_import(path=path, freq="1d", source="kaggle-subset").status == "succeeded"
    universe = Universe.objects.create(name="busy", description="23 names of the daily fixture")
    for symbol in symbols:
        Membership.objects.create(universe=universe, symbol=symbol, start_date=dt.date(2010, 1, 1))
    cfg = strategy_config(
        universe="busy",
        research={"start": "2014-01-01", "end": "2018-01-01"},
        optimizer={"allocator": "optimizer", "max_weight": 0.1, "sector_cap": None, "min_adv_dollar": 0},
    )
    return strategy_create(owner=people["quinn"], name="busy-ma", config=cfg)


def test_a_backtest_whose_pool_process_is_killed_is_taken_over_and_succeeds(worker, busy_strategy, people):
    proc, log = worker
    run = backtest_submit(strategy=busy_strategy, actor=people["quinn"])
    first = _wait(
        lambda: BacktestRun.objects.filter(pk=run.pk, status=Status.RUNNING, progress__gte=5).first(),
        timeout=60,
        what="the backtest to be running",
        proc=proc,
        log=log,
    )
    pool_pid = int(first.lease_owner.split(":")[1])
    assert pool_pid != proc.pid  # the pool process, not the worker's main process
    os.kill(pool_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    killed = BacktestRun.objects.get(pk=run.pk)
    assert killed.status == Status.RUNNING and killed.progress < 100, "the backtest ended before the kill"

    done = _wait(
        lambda: BacktestRun.objects.filter(pk=run.pk, status__in=[Status.SUCCEEDED, Status.FAILED]).first(),
        timeout=120,
        what="the killed backtest to end",
        proc=proc,
        log=log,
    )
    elapsed = time.monotonic() - killed_at
    assert done.status == Status.SUCCEEDED, done.error
    assert done.attempts == 2 and done.lease_owner == "" and done.metrics["n_trades"] > 0
    requeue = done.events.get(event="requeue")
    assert f"the lease of {first.lease_owner} expired" in requeue.reason
    assert list(done.events.values_list("event", flat=True)) == ["", "start", "requeue", "start", "succeed"]
    assert elapsed < 90, f"took {elapsed:.0f} s after the kill"


def test_a_search_whose_child_lost_its_worker_still_finishes_and_ranks(worker, busy_strategy, people):
    proc, log = worker
    search = search_submit(
        strategy=busy_strategy, actor=people["quinn"], method="grid", param_space={"model.fast": [5, 20]}
    )
    child = _wait(
        lambda: search.runs.filter(status=Status.RUNNING, progress__gte=5).first(),
        timeout=60,
        what="a candidate to be running",
        proc=proc,
        log=log,
    )
    os.kill(int(child.lease_owner.split(":")[1]), signal.SIGKILL)
    done = _wait(
        lambda: ParameterSearch.objects.filter(
            pk=search.pk, status__in=[Status.SUCCEEDED, Status.FAILED]
        ).first(),
        timeout=180,
        what="the search to end",
        proc=proc,
        log=log,
    )
    assert done.status == Status.SUCCEEDED, done.error
    assert [r["rank"] for r in done.results] == [1, 2] and done.n_failed == 0
    child.refresh_from_db()
    assert child.status == Status.SUCCEEDED and child.attempts == 2
    assert child.events.filter(event="requeue").count() == 1
