"""Crash points of the hourly cycle, imported by the test workers only (crash_settings.py's
CELERY_IMPORTS; never by the desk).

The test writes a plan, `{"account": name, "point": point}`, to the file named by
`CYCLE_CRASH_PLAN`. When that account's cycle reaches the point, the worker process writes
`<plan>.<account>.<point>.hit` (its pid) and sleeps; the test sees the file and SIGKILLs the
worker's process group there. Each point pauses once: the worker that takes the run over goes on.

Every end of a `live_cycle` task (success, retry, failure) is appended to the file named by
`CYCLE_TASK_LOG` when it is set: `<task id> <state> <return value>`, one line each.

Points: every name of apps.live.cycle.machine.STEPS (right after the step is recorded on the run),
and two inside the submit loop, at the first order sent: `sending` (its `submit` transition is
committed, the venue has not received it) and `sent` (the venue has it, its answer is not applied).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from celery.signals import task_postrun

from apps.live.cycle.run import _Cycle
from apps.trading.brokers.paper import PaperBroker

SUBMIT_POINTS = ("sending", "sent")


def hit_path(plan: str | Path, account: str, point: str) -> Path:
    return Path(f"{plan}.{account}.{point}.hit")


def _pause(account: str, point: str) -> None:
    plan = os.environ.get("CYCLE_CRASH_PLAN", "")
    if not plan:
        return
    try:
        wanted = json.loads(Path(plan).read_text())
    except (OSError, ValueError):
        return
    if wanted != {"account": account, "point": point}:
        return
    try:
        fd = os.open(hit_path(plan, account, point), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return  # paused here once: this is the run taken over, it goes on
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    time.sleep(3600)  # the test kills the worker now


_step = _Cycle.step
_submit_many = PaperBroker.submit_many


def _step_then_pause(self, name: str, **fields) -> None:
    _step(self, name, **fields)
    _pause(self.account.name, name)


def _submit_with_pauses(self, requests):
    # The cycle sends its orders to the venue in batches (PaperBroker.submit_many).
    _pause(self.venue_account.name, "sending")
    reported = _submit_many(self, requests)
    _pause(self.venue_account.name, "sent")
    return reported


_Cycle.step = _step_then_pause
PaperBroker.submit_many = _submit_with_pauses


@task_postrun.connect
def _record_task(sender=None, task_id=None, state=None, retval=None, **_):
    path = os.environ.get("CYCLE_TASK_LOG", "")
    if path and getattr(sender, "name", "") == "apps.live.tasks.live_cycle":
        with open(path, "a") as out:  # one short write per line: appends do not interleave
            out.write(f"{task_id} {state} {retval if isinstance(retval, str) else type(retval).__name__}\n")
