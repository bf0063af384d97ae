"""Exactly once, one at a time: the account's cycle lock and the claim of a (account, bar) run.

- `account_cycle_lock(account_id)`: on PostgreSQL a session advisory lock taken with
  `pg_try_advisory_lock` (never waits: a busy account's task is retried later by Celery), held for
  the whole cycle and released by the database if the worker dies (its connection closes). So one
  account's cycle never runs twice at once, on any number of workers or machines, and a crashed
  holder never blocks the account. On SQLite (the one-process demo) a lock of the process.
- `cycle_claim`: under that lock, the CycleRun of (account, bar time) is created `running`, or,
  when it exists: `running` means its previous holder died mid-cycle (we hold the lock it held),
  so we take it over (`resume`); `failed` is run again only by a retry within the attempt budget;
  `succeeded` / `skipped` (or a failed run out of attempts) means there is nothing to do.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.cockpit.rows import cycle_row
from apps.core.realtime import account_stream, stream_publish
from apps.live.models import CycleEvent, CycleRun

from .machine import CYCLE_MACHINE, CycleStatus

LOCK_NAMESPACE = 0x4359  # "CY": first key of the two-int advisory lock (the kill switch uses "KS")
_local_locks: dict[int, threading.Lock] = {}
_local_guard = threading.Lock()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def account_cycle_lock(account_id: int) -> Iterator[bool]:
    """Yield True while holding the account's cycle lock, False when another worker holds it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, account_id])
            got = bool(cursor.fetchone()[0])
        try:
            yield got
        finally:
            if got:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, account_id])
        return
    with _local_guard:
        lock = _local_locks.setdefault(account_id, threading.Lock())
    got = lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            lock.release()


def cycle_transition(*, run: CycleRun, event: str, detail: str = "", **fields) -> bool:
    """Apply `event` to `run` (CYCLE_MACHINE) with its CycleEvent row, in one transaction."""

    def record(from_status: str, to_status: str) -> None:
        CycleEvent.objects.create(
            cycle=run,
            event=event,
            from_status=from_status,
            to_status=to_status,
            worker=worker_name(),
            detail=detail[:2000],
        )

    return CYCLE_MACHINE.apply(run, event, record=record, **fields)


def cycle_claim(*, account, bar_time, trigger: str) -> CycleRun | None:
    """The run to execute now for (account, bar time), or None when there is nothing to do.
    Call it holding `account_cycle_lock`."""
    try:
        with transaction.atomic():
            run = CycleRun.objects.create(account=account, bar_time=bar_time, trigger=trigger)
            CycleEvent.objects.create(
                cycle=run, event="claim", from_status="", to_status=run.status, worker=worker_name()
            )
            return run
    except IntegrityError:
        run = CycleRun.objects.get(account=account, bar_time=bar_time)
    if run.status == CycleStatus.RUNNING:
        event, detail = "resume", f"taken over by {worker_name()} ({trigger}): the previous attempt died"
    elif run.status == CycleStatus.FAILED and run.attempts < settings.LIVE_CYCLE_MAX_ATTEMPTS:
        if trigger != "retry":
            return None  # only the run's own bounded retries run a failed cycle again
        event, detail = "retry", f"attempt {run.attempts + 1} of {settings.LIVE_CYCLE_MAX_ATTEMPTS}"
    else:
        return None
    if not cycle_transition(run=run, event=event, detail=detail, attempts=F("attempts") + 1, error=""):
        return None
    run.refresh_from_db()
    return run


def cycle_finish(*, run: CycleRun, event: str, reason: str, **fields) -> bool:
    """Finish `run` (succeed / skip / fail) and announce it (`cycle` on the account's stream)."""
    with transaction.atomic():
        won = cycle_transition(
            run=run, event=event, detail=reason, reason=reason, finished_at=timezone.now(), **fields
        )
        if won:
            run.refresh_from_db(fields=["step", "started_at", "summary"])
            stream_publish(
                stream=account_stream(run.account_id),
                event="cycle",
                payload={"account": run.account.name, "cycle": cycle_row(run)},
            )
    return won
