"""Research jobs: backtests, training runs and parameter searches, with their event trail.

Every job row keeps what is needed to reproduce it (full config snapshot, data hash, seed, code
version) next to its results, so a number on a page can always be traced back and re-run. Status
changes go through `apps.research.services.status.run_transition`, which checks the one table
below and appends a RunEvent.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from workers.engine.objectives import OBJECTIVES


class Status(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"
    CANCELLED = "cancelled", "cancelled"


# The one transition table for every research job (runs and searches): from -> allowed targets.
# Terminal states have no way out; a re-run is a new row with the same config.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    Status.QUEUED: (Status.RUNNING, Status.CANCELLED, Status.FAILED),
    Status.RUNNING: (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED),
    Status.SUCCEEDED: (),
    Status.FAILED: (),
    Status.CANCELLED: (),
}
TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)


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
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


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


class BacktestRun(Job):
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


class TrainingRun(Job):
    # The version this run produced (stage research), set when it succeeds.
    model_version = models.ForeignKey(
        "strategies.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    data_hash = models.CharField(max_length=64, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    series = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"training #{self.pk} ({self.status})"


class RunEvent(models.Model):
    """One status change of one job: who (null = the system / a worker), when, why."""

    backtest = models.ForeignKey(
        BacktestRun, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    training = models.ForeignKey(
        TrainingRun, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    search = models.ForeignKey(
        ParameterSearch, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
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
