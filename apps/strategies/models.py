"""Strategies, their model versions, promotion requests and the append-only lifecycle log.

The lifecycle rules (which stage may follow which, which gate guards it, how a request is
decided) live in literal tables in `lifecycle.py`, applied by `apps.core.statemachine`; this module only holds the state and the database-level guarantees that
must hold even if a service is bypassed: one live version per strategy, one pending request per
version, no self-decided request, and audit rows that are never rewritten.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from apps.core.statemachine import AppendOnlyError, AppendOnlyModel
from apps.marketdata.models import Frequency


class Stage(models.TextChoices):
    RESEARCH = "research", "research"
    CANDIDATE = "candidate", "candidate"
    PAPER = "paper", "paper"
    LIVE = "live", "live"
    RETIRED = "retired", "retired"


class Strategy(models.Model):
    """A named, owned research configuration. `config` is the full validated `StrategyConfig`
    (see config.py); `kind`, `universe` and `frequency` are denormalised from it so they can be
    filtered and joined on."""

    name = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="strategies")
    kind = models.CharField(max_length=32)
    universe = models.ForeignKey("universes.Universe", on_delete=models.PROTECT, related_name="strategies")
    frequency = models.CharField(max_length=2, choices=Frequency.choices)
    config = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "strategies"
        constraints = [
            models.CheckConstraint(
                condition=Q(frequency__in=Frequency.values), name="strategy_frequency_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


def artifact_upload_to(instance: ModelVersion, filename: str) -> str:
    """Artifacts land under MEDIA_ROOT/artifacts/<strategy>/v<version>/ so a version's files are
    never overwritten by another version's."""
    return f"artifacts/{instance.strategy.name}/v{instance.version}/{filename}"


class ModelVersion(AppendOnlyModel):
    """One trained (or, for rule strategies, parameterised) version of a strategy with everything
    needed to reproduce it: config snapshot, training window, data hash and code version.

    Evidence: written once, never saved again (its artifact, hashes, metrics and config are what
    the gates and the live desk rely on). Only its stage moves, by the lifecycle's state machine
    (a conditional UPDATE, never save())."""

    strategy = models.ForeignKey(Strategy, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.RESEARCH)
    artifact = models.FileField(upload_to=artifact_upload_to, blank=True, max_length=300)
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    train_start = models.DateTimeField(null=True, blank=True)
    train_end = models.DateTimeField(null=True, blank=True)
    data_hash = models.CharField(max_length=64, blank=True)
    code_version = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict, blank=True)
    config = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="model_versions"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["strategy_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["strategy", "version"], name="modelversion_unique_version"),
            # The desk trades at most one version of a strategy: enforced by the database, so two
            # concurrent approvals cannot both leave a live version behind.
            models.UniqueConstraint(
                fields=["strategy"], condition=Q(stage="live"), name="modelversion_one_live_per_strategy"
            ),
            models.CheckConstraint(
                condition=Q(stage__in=[s.value for s in Stage]), name="modelversion_stage_valid"
            ),
            models.CheckConstraint(
                condition=Q(train_start__isnull=True)
                | Q(train_end__isnull=True)
                | Q(train_end__gt=F("train_start")),
                name="modelversion_train_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.strategy.name} v{self.version} ({self.stage})"


class RequestKind(models.TextChoices):
    PROMOTE = "promote", "promote"
    ROLLBACK = "rollback", "rollback"
    RETIRE = "retire", "retire"


class RequestStatus(models.TextChoices):
    PENDING = "pending", "pending"
    APPROVED = "approved", "approved"
    REJECTED = "rejected", "rejected"
    CANCELLED = "cancelled", "cancelled"


class PromotionRequest(models.Model):
    """A request to move a model version from one stage to another. It carries a snapshot of the
    evidence (linked runs' ids and metrics) and the gate results computed when it was made; a
    second person decides it."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="promotion_requests"
    )
    kind = models.CharField(max_length=16, choices=RequestKind.choices, default=RequestKind.PROMOTE)
    from_stage = models.CharField(max_length=16, choices=Stage.choices)
    to_stage = models.CharField(max_length=16, choices=Stage.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="promotion_requests"
    )
    reason = models.TextField()
    evidence = models.JSONField(default=list, blank=True)
    gate_results = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="promotion_decisions",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("decide_promotion", "Can approve or reject promotion requests")]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version"], condition=Q(status="pending"), name="promotionrequest_one_pending"
            ),
            # Four eyes, also at the database level: nobody decides their own request.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                name="promotionrequest_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.model_version} {self.from_stage}->{self.to_stage} [{self.status}]"


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk update/delete would rewrite history; the audit log only ever grows."""

    def update(self, **kwargs):
        raise AppendOnlyError("the lifecycle log is append-only: rows are never updated")

    def delete(self):
        raise AppendOnlyError("the lifecycle log is append-only: rows are never deleted")


class LifecycleEvent(AppendOnlyModel):
    """One row per stage transition or request decision: who, when, from, to, why, on what
    evidence. Written once by the services (inside the state machines' transactions), never
    changed."""

    class Action(models.TextChoices):
        REQUESTED = "requested", "requested"
        APPROVED = "approved", "approved"
        REJECTED = "rejected", "rejected"
        CANCELLED = "cancelled", "cancelled"
        TRANSITION = "transition", "transition"

    strategy = models.ForeignKey(Strategy, on_delete=models.PROTECT, related_name="lifecycle_events")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="lifecycle_events")
    request = models.ForeignKey(
        PromotionRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    from_stage = models.CharField(max_length=16, choices=Stage.choices)
    to_stage = models.CharField(max_length=16, choices=Stage.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="lifecycle_events"
    )
    at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField(blank=True)
    evidence = models.JSONField(default=dict, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.from_stage}->{self.to_stage}"
