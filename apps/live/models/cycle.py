"""The hourly cycle's records: one `CycleRun` per (account, bar time) with its append-only events,
reconciliations against the broker, and the paper-tracking record (per cycle, and the frozen
evidence a promotion to live cites)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.statemachine import AppendOnlyModel

from ..cycle.machine import STEPS, CycleStatus


class CycleRun(models.Model):
    """Exactly once per (account, bar time): the unique constraint makes a duplicate beat, a
    Celery retry or a manual run of the same hour find this row instead of trading again."""

    account = models.ForeignKey("trading.TradingAccount", on_delete=models.PROTECT, related_name="cycles")
    bar_time = models.DateTimeField()  # end of the bar the cycle decides at (UTC)
    status = models.CharField(max_length=16, choices=CycleStatus.choices, default=CycleStatus.RUNNING)
    step = models.CharField(max_length=16, choices=[(s, s) for s in STEPS], default=STEPS[0])
    trigger = models.CharField(max_length=16)  # "beat", "manual", "replay", "retry"
    attempts = models.PositiveSmallIntegerField(default=1)
    model_version = models.ForeignKey(
        "strategies.ModelVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)  # why skipped / failed, or a one-line outcome
    error = models.TextField(blank=True)
    config_sha256 = models.CharField(max_length=64, blank=True)
    data_hash = models.CharField(max_length=64, blank=True)
    # The kernel's decision record (weights and scores by symbol, governor, allocator status).
    decision = models.JSONField(default=dict, blank=True)
    # Outcome: orders, refusals by reason, blocked symbols, equity, cash, PnL, shortfall summary.
    summary = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)  # ms per step

    class Meta:
        ordering = ["-bar_time", "account_id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "bar_time"], name="cyclerun_one_per_account_bar"),
            models.CheckConstraint(condition=Q(status__in=CycleStatus.values), name="cyclerun_status_valid"),
        ]
        indexes = [models.Index(fields=["account", "status"], name="cyclerun_account_status")]

    def __str__(self) -> str:
        return f"cycle {self.account_id}@{self.bar_time:%Y-%m-%d %H:%M} [{self.status}]"


class CycleEvent(AppendOnlyModel):
    cycle = models.ForeignKey(CycleRun, on_delete=models.PROTECT, related_name="events")
    event = models.CharField(max_length=16)
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    at = models.DateTimeField(auto_now_add=True)
    worker = models.CharField(max_length=128, blank=True)  # host:pid of the worker that applied it
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["cycle_id", "at", "pk"]


class ReconcileTrigger(models.TextChoices):
    STARTUP = "startup", "worker start"
    CYCLE = "cycle", "start of a cycle"
    RECONNECT = "reconnect", "stream reconnect"
    MANUAL = "manual", "manual"


class Reconciliation(AppendOnlyModel):
    """One comparison of the desk's books with the broker's: what was recovered (fills the desk had
    missed, orders in flight settled) and the breaks found. A break halts the account (kill switch
    HALTED) and raises an alert until a risk officer unlocks it."""

    account = models.ForeignKey(
        "trading.TradingAccount", on_delete=models.PROTECT, related_name="reconciliations"
    )
    cycle = models.ForeignKey(CycleRun, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    trigger = models.CharField(max_length=16, choices=ReconcileTrigger.choices)
    at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    # [{"kind": "position"|"open_order"|"unknown_fill"|..., "symbol", "ours", "broker", "detail"}]
    breaks = models.JSONField(default=list, blank=True)
    recovered_fills = models.PositiveIntegerField(default=0)
    resolved_orders = models.PositiveIntegerField(default=0)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"reconciliation {self.account_id} {self.at:%Y-%m-%d %H:%M}: {'ok' if self.ok else 'BREAK'}"


class PaperTrackingPoint(AppendOnlyModel):
    """One cycle of a paper account: its realised return over the bar that just ended and the
    backtest's return over the same bar (the same decisions simulated by the engine on the same
    bars), so the paper -> live gate is judged on what happened."""

    account = models.ForeignKey("trading.TradingAccount", on_delete=models.PROTECT, related_name="+")
    model_version = models.ForeignKey("strategies.ModelVersion", on_delete=models.PROTECT, related_name="+")
    cycle = models.OneToOneField(CycleRun, on_delete=models.PROTECT, related_name="tracking")
    bar_time = models.DateTimeField()
    equity = models.DecimalField(max_digits=20, decimal_places=6)
    paper_return = models.FloatField()
    backtest_return = models.FloatField()

    class Meta:
        ordering = ["account_id", "bar_time"]
        constraints = [
            models.UniqueConstraint(fields=["account", "bar_time"], name="papertracking_one_per_bar")
        ]


class PaperEvidence(AppendOnlyModel):
    """A frozen summary of a version's paper trading (`settings.STRATEGY_EVIDENCE_SOURCES['paper']`):
    what a promotion request to live cites. Append-only: a new summary is a new row."""

    strategy = models.ForeignKey("strategies.Strategy", on_delete=models.PROTECT, related_name="+")
    model_version = models.ForeignKey("strategies.ModelVersion", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey("trading.TradingAccount", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, default="succeeded")
    config = models.JSONField(default=dict)  # the version's config snapshot (the gate binds to it)
    metrics = models.JSONField(default=dict)  # paper_days, tracking_error, returns, n_cycles
    series = models.JSONField(default=list)  # [[bar_time, paper_return, backtest_return], ...]
    first_bar = models.DateTimeField()
    last_bar = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "paper evidence"

    def __str__(self) -> str:
        return f"paper evidence {self.model_version} ({self.metrics.get('paper_days')} days)"
