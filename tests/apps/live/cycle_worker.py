"""Real Celery workers for the cycle's crash tests: `celery -A workers worker` subprocesses
(prefork pool) on the test's PostgreSQL database and Redis, with crash_settings (the crash
points of crash_hook.py and a short Redis visibility timeout). A worker is its own process group,
so `kill()` SIGKILLs its main process and its pool at once, as a machine losing power would."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from apps.core.models import WorkerHeartbeat

from .crash_hook import hit_path

ROOT = Path(__file__).resolve().parents[3]
QUEUES = "live,control,default"
_numbers = itertools.count(1)


def needs_postgres_and_redis() -> None:
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip(
            "needs PostgreSQL and Redis: a worker process reaches neither SQLite's test database nor "
            "the in-memory broker (DATABASE_URL=postgres://..., REDIS_URL=redis://...)"
        )


def database_url() -> str:
    db = connection.settings_dict
    return (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


def redis_flush() -> None:
    """Empty the test's Redis database: no message of an earlier session (whose account ids the
    new test database reuses) reaches these workers."""
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()


def wait_for(predicate: Callable, *, timeout: float, what: str, workers=(), step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for worker in workers:
            worker.check_alive(what)
        time.sleep(step)
    logs = "\n".join(w.tail() for w in workers)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs}")


class Worker:
    """One worker process group. `plan` is the crash plan file its crash points read, `task_log`
    the file it records its ended live_cycle tasks in (crash_hook.py)."""

    def __init__(
        self, tmp_path: Path, *, plan: Path, task_log: Path, concurrency: int = 1, env: dict | None = None
    ):
        n = next(_numbers)
        self.name = f"crash{n}-{os.getpid()}@hourglass-test"
        self.log = tmp_path / f"worker-{n}.log"
        self.plan = plan
        self.killed = False
        environment = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "tests.apps.live.crash_settings",
            "CYCLE_CRASH_PLAN": str(plan),
            "CYCLE_TASK_LOG": str(task_log),
            **(env or {}),
        }
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers",
            "worker",
            "-P",
            "prefork",
            "-c",
            str(concurrency),
            "-Q",
            QUEUES,
            "-n",
            self.name,
            "-l",
            "INFO",
            "--without-mingle",
            "--without-gossip",
        ]
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the pool dies with it
            )

    def tail(self, n: int = 3000) -> str:
        return f"--- {self.name} ---\n{self.log.read_text()[-n:]}"

    def check_alive(self, what: str) -> None:
        if not self.killed and self.proc.poll() is not None:
            raise AssertionError(
                f"the worker exited ({self.proc.returncode}) waiting for {what}\n{self.tail()}"
            )

    def ready(self, timeout: float = 90) -> Worker:
        wait_for(
            lambda: WorkerHeartbeat.objects.filter(hostname=self.name).exists(),
            timeout=timeout,
            what=f"{self.name}'s first heartbeat",
            workers=[self],
        )
        return self

    def kill(self) -> None:
        """SIGKILL the main process and its pool at once (no shutdown, no ack, no cleanup)."""
        self.killed = True
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.killed = True
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Workers:
    """The workers of one test (all stopped at its end) and its crash plan."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.plan = tmp_path / "crash-plan.json"
        self.task_log = tmp_path / "live-cycle-tasks.log"
        self.started: list[Worker] = []

    def start(self, **kw) -> Worker:
        worker = Worker(self.tmp_path, plan=self.plan, task_log=self.task_log, **kw)
        self.started.append(worker)
        return worker.ready()

    def crash_at(self, *, account: str, point: str) -> Path:
        """Arm the crash point; returns the file the worker writes when it pauses there."""
        self.plan.write_text(json.dumps({"account": account, "point": point}))
        return hit_path(self.plan, account, point)

    def tasks_ended(self) -> list[tuple[str, str, str]]:
        """(task id, state, return value) of every live_cycle task the workers ended."""
        if not self.task_log.exists():
            return []
        return [tuple(line.split(" ", 2)) for line in self.task_log.read_text().splitlines()]

    def logs(self) -> str:
        return "\n".join(w.tail() for w in self.started)

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()


def worker_group(tmp_path: Path) -> Iterator[Workers]:
    """The body of a test module's `workers` fixture (`yield from worker_group(tmp_path)`): skips
    without PostgreSQL and Redis, empties the Redis database, stops every worker at the end."""
    needs_postgres_and_redis()
    redis_flush()
    group = Workers(tmp_path)
    try:
        yield group
    finally:
        group.stop_all()
