"""Status changes of research jobs: checked against the one table in models.TRANSITIONS, made with
a conditional UPDATE (so two workers, or a worker and a cancelling user, can never both win) and
recorded as a RunEvent in the same transaction."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ..models import TERMINAL, TRANSITIONS, BacktestRun, Job, ParameterSearch, RunEvent, Status, TrainingRun


class TransitionError(ValueError):
    """A status change the table does not allow, named."""


class Cancelled(Exception):
    """Raised at a progress point when the user asked to cancel a running job."""


def _event_field(job: Job) -> str:
    if isinstance(job, BacktestRun):
        return "backtest"
    if isinstance(job, TrainingRun):
        return "training"
    if isinstance(job, ParameterSearch):
        return "search"
    raise TypeError(f"not a research job: {type(job).__name__}")


def check_transition(from_status: str, to_status: str) -> None:
    if to_status not in TRANSITIONS.get(from_status, ()):
        allowed = ", ".join(TRANSITIONS.get(from_status, ())) or "nothing (terminal)"
        raise TransitionError(f"a {from_status} job cannot become {to_status}; allowed: {allowed}")


def run_transition(*, job: Job, to_status: str, actor=None, reason: str = "", **fields) -> bool:
    """Move `job` from its current status (as read) to `to_status` if nobody changed it meanwhile.

    Returns False (and writes nothing) when the row's status is no longer the one we read: the
    caller lost a race and must not act. Timestamps are set here: started_at on running,
    finished_at (and progress 100 on success) on any terminal state."""
    from_status = job.status
    check_transition(from_status, to_status)
    now = timezone.now()
    if to_status == Status.RUNNING:
        fields.setdefault("started_at", now)
    if to_status in TERMINAL:
        fields.setdefault("finished_at", now)
        if to_status == Status.SUCCEEDED:
            fields.setdefault("progress", 100)
    with transaction.atomic():
        won = type(job).objects.filter(pk=job.pk, status=from_status).update(status=to_status, **fields) == 1
        if not won:
            return False
        RunEvent.objects.create(
            **{_event_field(job): job},
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            reason=reason[:5000],
        )
    job.status = to_status
    for name, value in fields.items():
        setattr(job, name, value)
    return True


def job_created(*, job: Job, actor=None, reason: str = "submitted") -> None:
    """The first event of a job's trail (no from-status)."""
    RunEvent.objects.create(
        **{_event_field(job): job}, from_status="", to_status=job.status, actor=actor, reason=reason
    )


class Progress:
    """Progress reporting for a running job: writes percent + message, and raises Cancelled when
    the cancel flag was set (checked at every call, i.e. at every stage boundary / fold / chunk)."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.model = type(job)

    def __call__(self, percent: float, message: str = "") -> None:
        pct = max(0, min(99, int(percent)))
        self.model.objects.filter(pk=self.job.pk, status=Status.RUNNING).update(
            progress=pct, progress_message=message[:200]
        )
        if self.model.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            raise Cancelled(f"cancelled by request at {pct}% ({message})")
