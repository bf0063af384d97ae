"""The bottom of the research services: what every research job (backtest, training, search)
shares, and nothing that knows one kind of job from another.

- status changes: `job_transition` applies `models.JOB_MACHINE` (conditional update + RunEvent);
- enqueue: by task name (`TASKS`), after commit, with the task id stored on the row for revoke;
- claim with a lease: a worker claims a queued run (queued -> running) and holds a lease (a token
  and an expiry) that a heartbeat thread and every progress report renew. A run whose lease
  expired lost its worker (a SIGKILLed pool process, a lost machine): the redelivered task or the
  beat reaper re-queues it (up to MAX_ATTEMPTS claims) or fails it, saying why; a cancel of such
  an orphan ends it at once;
- cancel, and the completion counter of a search's generation: a child's terminal transition,
  whichever path made it (success, failure, cancel, reaped), counts it in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from celery import group
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import close_old_connections, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.strategies import permissions
from apps.strategies.config import strategy_config_validate
from workers.celery import app as celery_app

from ..models import (
    JOB_MACHINE,
    TERMINAL,
    BacktestRun,
    Job,
    ParameterSearch,
    Run,
    RunEvent,
    Status,
    TrainingRun,
)

log = logging.getLogger(__name__)

# Every task the research services enqueue, by name (tests check each is registered).
TASKS = {
    "backtest": "apps.research.tasks.backtest_run",
    "training": "apps.research.tasks.training_run",
    "search_rank": "apps.research.tasks.search_rank",
}
# A run whose worker was lost this many times is failed instead of re-queued: it may be what
# kills the worker (memory, a crash in native code).
MAX_ATTEMPTS = 3


class Cancelled(Exception):
    """Raised at a progress point when the user asked to cancel a running job."""


class LeaseLost(Exception):
    """Raised at a progress point when this worker's lease was taken over (the run was re-queued,
    reaped or cancelled as an orphan): the work is no longer ours to record."""


def config_snapshot(strategy) -> dict:
    """The strategy's config, validated now with defaults filled in: what the job will use."""
    return strategy_config_validate(strategy.config).to_dict()


def job_edit_check(*, actor, strategy) -> None:
    """Only those who may change a strategy submit or cancel its research jobs."""
    if not permissions.can_edit(actor, strategy):
        raise PermissionDenied("only those who can change this strategy submit or cancel its research jobs")


def _event_field(job: Job) -> str:
    if isinstance(job, BacktestRun):
        return "backtest"
    if isinstance(job, TrainingRun):
        return "training"
    if isinstance(job, ParameterSearch):
        return "search"
    raise TypeError(f"not a research job: {type(job).__name__}")


def job_created(*, job: Job, actor=None, reason: str = "submitted") -> None:
    """The first event of a job's trail (no from-status, no event)."""
    RunEvent.objects.create(
        **{_event_field(job): job}, from_status="", to_status=job.status, actor=actor, reason=reason
    )


def job_transition(*, job: Job, event: str, actor=None, reason: str = "", **fields) -> bool:
    """Apply `event` to `job` from the status it was read in (JOB_MACHINE).

    Returns False (writing nothing) when the row's status is no longer the one read: the caller
    lost a race and must not act. Raises TransitionError when the table does not allow it.
    Timestamps are set here: started_at on start, finished_at (and progress 100 on success) on a
    terminal state; a run leaving `running` gives up its lease. A search child reaching a terminal
    state is counted by its search in the same transaction."""
    to_status = JOB_MACHINE.next_state(job.status, event)
    now = timezone.now()
    if event == "start":
        fields.setdefault("started_at", now)
    if to_status in TERMINAL:
        fields.setdefault("finished_at", now)
        if to_status == Status.SUCCEEDED:
            fields.setdefault("progress", 100)
    if isinstance(job, Run) and job.status == Status.RUNNING and to_status != Status.RUNNING:
        fields.setdefault("lease_owner", "")
        fields.setdefault("lease_expires_at", None)

    def record(from_status: str, to: str) -> None:
        RunEvent.objects.create(
            **{_event_field(job): job},
            event=event,
            from_status=from_status,
            to_status=to,
            actor=actor,
            reason=reason[:5000],
        )
        if to in TERMINAL and isinstance(job, BacktestRun) and job.search_id is not None:
            _search_child_finished(search_id=job.search_id, generation=job.generation)

    return JOB_MACHINE.apply(job, event, record=record, **fields)


def job_enqueue(*, job: Job, task: str) -> None:
    """Send task `task` (a key of TASKS) for `job` after commit, with a task id chosen now and
    stored on the row (for revoke)."""
    task_id = uuid.uuid4().hex
    type(job).objects.filter(pk=job.pk).update(celery_task_id=task_id)
    job.celery_task_id = task_id
    signature = celery_app.signature(TASKS[task], args=(job.pk,), task_id=task_id)
    transaction.on_commit(lambda: signature.apply_async())


def jobs_enqueue_group(*, jobs: list[Job], task: str) -> None:
    """Send one task per job as a Celery group after commit (task ids already on the rows)."""
    signatures = [
        celery_app.signature(TASKS[task], args=(j.pk,), immutable=True).set(task_id=j.celery_task_id)
        for j in jobs
    ]
    transaction.on_commit(lambda: group(signatures).apply_async())


# --- Search generations -------------------------------------------------------------------------


def _search_child_finished(*, search_id: int, generation: int) -> None:
    """Count one finished child (inside the transaction of its terminal transition); the child that
    completes its generation enqueues the ranking after commit.

    Why a counter and not a Celery chord: the terminal transition is a conditional update that
    succeeds once per child, so a re-delivered child never counts twice and a failed, cancelled or
    reaped child still counts; the counter behaves the same on the memory broker and on Redis."""
    counted = ParameterSearch.objects.filter(
        pk=search_id, generation=generation, status=Status.RUNNING
    ).update(generation_done=F("generation_done") + 1)
    if not counted:
        return
    search = ParameterSearch.objects.only("generation_done", "generation_size").get(pk=search_id)
    ParameterSearch.objects.filter(pk=search_id).update(
        progress=int(99 * search.generation_done / max(1, search.generation_size)),
        progress_message=f"generation {generation}: {search.generation_done}/{search.generation_size} done",
    )
    if search.generation_done >= search.generation_size:
        signature = celery_app.signature(TASKS["search_rank"], args=(search_id, generation))
        transaction.on_commit(lambda: signature.apply_async())


# --- Leases -------------------------------------------------------------------------------------


def lease_length() -> dt.timedelta:
    return dt.timedelta(seconds=settings.RESEARCH_JOB_LEASE_S)


def _lease_expired(job: Run, now: dt.datetime) -> bool:
    return job.lease_expires_at is None or job.lease_expires_at <= now


def _lease_text(job: Run) -> str:
    owner = job.lease_owner or "an unknown worker"
    until = job.lease_expires_at.isoformat(timespec="seconds") if job.lease_expires_at else "never renewed"
    return f"the worker was lost: the lease of {owner} expired ({until})"


def _recover_orphan(job: Run, *, now: dt.datetime) -> str | None:
    """A running run whose lease expired: cancel it (a cancel was asked), fail it (its worker was
    lost MAX_ATTEMPTS times) or put it back in the queue. Call with the row locked. Returns the
    event applied, or None when the lease is alive after all."""
    if job.status != Status.RUNNING or not _lease_expired(job, now):
        return None
    lost = _lease_text(job)
    if job.cancel_requested:
        event, reason, fields = "cancel", f"cancelled by request; {lost}", {}
    elif job.attempts >= MAX_ATTEMPTS:
        reason = f"{lost}; gave up after {job.attempts} attempts"
        event, fields = "reap", {"error": f"worker lost: {reason}"}
    else:
        event, fields = "requeue", {"progress": 0, "progress_message": "re-queued: its worker was lost"}
        reason = f"{lost}; re-queued (attempt {job.attempts + 1} of {MAX_ATTEMPTS} next)"
    log.warning("research job %s: %s", job, reason)
    return event if job_transition(job=job, event=event, reason=reason, **fields) else None


def _locked(model: type[Job], pk: int) -> Job | None:
    return model.objects.select_for_update().filter(pk=pk).first()


def job_claim(*, model: type[Run], pk: int) -> Run | None:
    """Claim run `pk` for this worker: queued -> running with a new lease. A run left running by a
    lost worker (lease expired) is taken over: re-queued, then claimed. Returns None (do nothing)
    when the run is gone, finished, cancelled, or running under a live lease (a duplicate
    delivery while its worker is still at work)."""
    now = timezone.now()
    with transaction.atomic():
        job = _locked(model, pk)
        if job is None or job.is_terminal:
            return None
        if job.status == Status.RUNNING and _recover_orphan(job, now=now) != "requeue":
            return None
        if job.cancel_requested:
            job_transition(job=job, event="cancel", reason="cancelled before a worker started it")
            return None
        token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        won = job_transition(
            job=job,
            event="start",
            reason=f"picked up by a worker ({token})",
            progress=0,
            lease_owner=token,
            lease_expires_at=now + lease_length(),
            attempts=job.attempts + 1,
        )
    return job if won else None


def jobs_reap() -> int:
    """Beat's reaper: every running run whose lease expired is cancelled, failed or re-queued (and
    its task enqueued again). Returns how many it handled."""
    handled = 0
    now = timezone.now()
    for model, task in ((BacktestRun, "backtest"), (TrainingRun, "training")):
        expired = model.objects.filter(status=Status.RUNNING).filter(
            Q(lease_expires_at__lte=now) | Q(lease_expires_at__isnull=True)
        )
        for pk in expired.order_by("pk").values_list("pk", flat=True):
            with transaction.atomic():
                job = _locked(model, pk)
                event = _recover_orphan(job, now=now) if job is not None else None
                if event == "requeue":
                    job_enqueue(job=job, task=task)
            handled += event is not None
    return handled


def _lease_renew(job: Run) -> bool:
    """Extend this worker's lease; False when the lease is no longer ours."""
    return (
        type(job)
        .objects.filter(pk=job.pk, status=Status.RUNNING, lease_owner=job.lease_owner)
        .update(lease_expires_at=timezone.now() + lease_length())
    ) == 1


class Progress:
    """Progress reporting for a running run: writes percent + message and renews the lease; raises
    Cancelled when the cancel flag was set and LeaseLost when the run is no longer ours (checked
    at every call, i.e. at every stage boundary / fold / chunk)."""

    def __init__(self, job: Run) -> None:
        self.job = job
        self.model = type(job)
        self.lost = threading.Event()  # set by the heartbeat thread

    def __call__(self, percent: float, message: str = "") -> None:
        pct = max(0, min(99, int(percent)))
        mine = self.model.objects.filter(
            pk=self.job.pk, status=Status.RUNNING, lease_owner=self.job.lease_owner
        )
        if self.lost.is_set() or not mine.update(
            progress=pct, progress_message=message[:200], lease_expires_at=timezone.now() + lease_length()
        ):
            raise LeaseLost(f"the lease of {self.job.lease_owner} was taken over at {pct}% ({message})")
        if self.model.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            raise Cancelled(f"cancelled by request at {pct}% ({message})")


@contextmanager
def job_lease(job: Run) -> Iterator[Progress]:
    """Hold `job`'s lease while the body runs: a daemon thread renews it every third of the lease
    (a long fold or solve reports no progress for minutes); yields the progress reporter."""
    progress = Progress(job)
    stop = threading.Event()
    every = settings.RESEARCH_JOB_LEASE_S / 3

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    if not _lease_renew(job):
                        progress.lost.set()
                        return
                except Exception:  # noqa: BLE001 - a database blip must not kill the run; the next beat retries
                    log.exception("research job %s: lease renewal failed", job)
                    close_old_connections()
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"lease-{job}", daemon=True)
    thread.start()
    try:
        yield progress
    finally:
        stop.set()
        thread.join(timeout=every + 5)


# --- Cancel -------------------------------------------------------------------------------------


def job_cancel_checked(*, job: Run, actor, reason: str) -> Run:
    """Cancel a backtest or training run whose cancel permission was checked (runs.job_cancel, or a
    search cancelling its children). A queued run is cancelled now (its task is revoked and would
    find it not queued anyway); a running one gets the cancel flag, which its worker checks at
    every progress point; an orphan (running, lease expired) is cancelled now."""
    with transaction.atomic():
        locked = _locked(type(job), job.pk)
        if locked is not None and locked.status in (Status.QUEUED, Status.RUNNING):
            type(job).objects.filter(pk=job.pk).update(cancel_requested=True)
            locked.cancel_requested = True
            if locked.status == Status.QUEUED:
                job_transition(job=locked, event="cancel", actor=actor, reason=reason)
                if locked.celery_task_id:
                    transaction.on_commit(lambda: celery_app.control.revoke(locked.celery_task_id))
            elif _lease_expired(locked, timezone.now()):
                job_transition(
                    job=locked, event="cancel", actor=actor, reason=f"{reason}; {_lease_text(locked)}"
                )
    job.refresh_from_db()
    return job
