"""Research jobs: backtests, training runs and parameter searches, with their event trail.

Every job row keeps what is needed to reproduce it (full config snapshot, data hash, seed, code
version) next to its results, so a number on a page can always be traced back and re-run. Status
changes go through `apps.research.services.jobs.job_transition`, which applies the one table below
with `apps.core.statemachine.StateMachine` and appends a RunEvent.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.statemachine import AppendOnlyModel, StateMachine
from workers.engine.objectives import OBJECTIVES


class Status(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"
    CANCELLED = "cancelled", "cancelled"


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED})

# The one transition table for every research job (runs and searches): (state, event) -> state.
# Terminal states have no way out; a re-run is a new row with the same config. `requeue` and
# `reap` are the answers to a lost worker (a running run whose lease expired): run it again, or,
# after too many lost workers, give up with the reason.
JOB_MACHINE = StateMachine(
    name="research job",
    table={
        (Status.QUEUED, "start"): Status.RUNNING,
        (Status.QUEUED, "cancel"): Status.CANCELLED,
        (Status.RUNNING, "succeed"): Status.SUCCEEDED,
        (Status.RUNNING, "fail"): Status.FAILED,
        (Status.RUNNING, "cancel"): Status.CANCELLED,
        (Status.RUNNING, "requeue"): Status.QUEUED,
        (Status.RUNNING, "reap"): Status.FAILED,
    },
    terminal=TERMINAL,
)


class Job(models.Model):
    """Fields every research job shares (abstract)."""

    strategy = models.ForeignKey("strategies.Strategy", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)  # 0-100
    progress_message = models.CharField(max_length=200, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    config = models.JSONField(default=dict)  # the full validated strategy config at submission
    seed = models.BigIntegerField(default=0)
    code_version = models.CharField(max_length=64, blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-pk"]

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def succeeded(self) -> bool:
        return self.status == Status.SUCCEEDED

    @property
    def is_running(self) -> bool:
        return self.status == Status.RUNNING

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class Run(Job):
    """A job one worker executes (backtest, training), under a lease: who holds it (one token per
    claim) and until when. The holder renews it while it works; a run whose lease expired lost its
    worker (see services.jobs). A search only coordinates its runs and holds no lease."""

    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # claims so far (1 unless a worker was lost)

    class Meta(Job.Meta):
        abstract = True


class ParameterSearch(Job):
    class Method(models.TextChoices):
        GRID = "grid", "grid"
        RANDOM = "random", "random"
        EVOLUTIONARY = "evolutionary", "evolutionary (genetic)"

    # The search objectives' one table is the engine's (workers.engine.objectives.OBJECTIVES).
    Objective = models.TextChoices("Objective", [(k.upper(), (k, label)) for k, label in OBJECTIVES.items()])

    method = models.CharField(max_length=12, choices=Method.choices)
    objective = models.CharField(max_length=8, choices=Objective.choices, default=Objective.SHARPE)
    param_space = models.JSONField(default=dict)  # {"param": [values...]} (dotted config paths)
    settings = models.JSONField(default=dict)  # n_samples / population / generations / mutation / crossover
    n_candidates = models.PositiveIntegerField(default=0)  # children created so far (all generations)
    generation = models.PositiveIntegerField(default=0)  # current generation (0 for grid/random)
    generation_size = models.PositiveIntegerField(default=0)  # children in the current generation
    generation_done = models.PositiveIntegerField(default=0)  # of those, finished (any terminal state)
    results = models.JSONField(
        default=list, blank=True
    )  # ranked table: [{run, params, score, metrics, rank}]
    data_hash = models.CharField(max_length=64, blank=True)

    class Meta(Job.Meta):
        verbose_name_plural = "parameter searches"

    def __str__(self) -> str:
        return f"search #{self.pk} {self.method} ({self.status})"

    @property
    def n_failed(self) -> int:
        """Candidates of the ranked table that did not succeed (failed, cancelled or lost)."""
        return sum(1 for row in self.results if row.get("status") != Status.SUCCEEDED)


class BacktestRun(Run):
    model_version = models.ForeignKey(
        "strategies.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    data_hash = models.CharField(max_length=64, blank=True)
    metrics = models.JSONField(default=dict, blank=True)  # sharpe, max_drawdown, n_trades, oos, ...
    series = models.JSONField(default=dict, blank=True)  # compact result series (see services.results)
    # A child of a parameter search: the candidate's parameters, its objective score and rank.
    search = models.ForeignKey(
        ParameterSearch, null=True, blank=True, on_delete=models.CASCADE, related_name="runs"
    )
    generation = models.PositiveIntegerField(default=0)
    candidate_params = models.JSONField(default=dict, blank=True)
    score = models.FloatField(null=True, blank=True)
    rank = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"backtest #{self.pk} ({self.status})"


class TrainingRun(Run):
    # The version this run produced (stage research), set when it succeeds.
    model_version = models.ForeignKey(
        "strategies.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    data_hash = models.CharField(max_length=64, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    series = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"training #{self.pk} ({self.status})"


class RunEvent(AppendOnlyModel):
    """One status change of one job: the event, who (null = the system / a worker), when, why.
    Append-only: the trail is evidence."""

    backtest = models.ForeignKey(
        BacktestRun, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    training = models.ForeignKey(
        TrainingRun, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    search = models.ForeignKey(
        ParameterSearch, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    event = models.CharField(max_length=16, blank=True)  # a JOB_MACHINE event; "" for the submission
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(backtest__isnull=False, training__isnull=True, search__isnull=True)
                    | models.Q(backtest__isnull=True, training__isnull=False, search__isnull=True)
                    | models.Q(backtest__isnull=True, training__isnull=True, search__isnull=False)
                ),
                name="runevent_exactly_one_job",
            )
        ]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status}"
