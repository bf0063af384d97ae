"""The cycle run's one literal transition table (applied by apps.core.statemachine.StateMachine).

A `CycleRun` is created `running` by the worker that claims its (account, bar time); it ends
`succeeded` (the cycle ran: orders may or may not have been sent), `skipped` (nothing to do: the
account is stopped / halted / trades no version, or its data is not there) or `failed` (an error,
recorded). `resume`: a worker holding the account's cycle lock finds the run still `running`, so
its previous holder died mid-cycle; it takes the run over and re-runs the steps, each idempotent
(orders by client order id, submissions only from `pending_new`, fills by execution id).
`retry`: a failed run is run again by its Celery retry, up to `LIVE_CYCLE_MAX_ATTEMPTS`.
"""

from __future__ import annotations

from django.db import models

from apps.core.statemachine import StateMachine


class CycleStatus(models.TextChoices):
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    SKIPPED = "skipped", "skipped"
    FAILED = "failed", "failed"


C = CycleStatus

CYCLE_MACHINE = StateMachine(
    name="cycle run",
    table={
        (C.RUNNING, "succeed"): C.SUCCEEDED,
        (C.RUNNING, "skip"): C.SKIPPED,
        (C.RUNNING, "fail"): C.FAILED,
        (C.RUNNING, "resume"): C.RUNNING,
        (C.FAILED, "retry"): C.RUNNING,
    },
    terminal=frozenset({C.SUCCEEDED, C.SKIPPED}),
)

# The steps of one cycle, in order; `CycleRun.step` is the last one completed (a resumed run
# shows where its previous attempt died).
STEPS = (
    "claimed",
    "venue",  # paper only: the simulated venue fills the previous orders at this bar's open
    "reconciled",
    "data",
    "decided",
    "persisted",  # orders committed (pending_new or refused) before anything is sent
    "submitted",
    "settled",  # positions, PnL, paper tracking and health recorded
)
