from django.conf import settings
from django.db import models

from workers.engine.market import Frequency as BarFrequency

from .symbols import SYMBOL_MAX_LEN

# The engine's bar frequencies as model choices (one definition: workers.engine.market.Frequency).
Frequency = models.TextChoices("Frequency", [(f.name, (f.value, f.label)) for f in BarFrequency])


class Instrument(models.Model):
    symbol = models.CharField(max_length=SYMBOL_MAX_LEN, unique=True)
    name = models.CharField(max_length=200, blank=True)
    sector = models.CharField("GICS sector", max_length=64, blank=True, db_index=True)
    sub_industry = models.CharField("GICS sub-industry", max_length=128, blank=True)

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol


class Bar(models.Model):
    """One OHLCV bar. `ts` is the bar END in UTC; `known_at` is when the bar became known
    (never before `ts`); point-in-time reads filter on `known_at <= as_of`."""

    # No separate index: the unique (instrument, frequency, ts) index leads with the instrument.
    # No per-row FOREIGN KEY either: on PostgreSQL its check cost more than a third of the database
    # time of a bulk import. The same guarantee (no bar without its instrument, no instrument
    # deleted or renumbered under its bars) is kept by triggers that migration 0003 creates
    # (set-based on PostgreSQL, row-level on SQLite); the ORM still applies PROTECT.
    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, related_name="bars", db_index=False, db_constraint=False
    )
    frequency = models.CharField(max_length=2, choices=Frequency.choices)
    ts = models.DateTimeField()
    open = models.DecimalField(max_digits=18, decimal_places=6)
    high = models.DecimalField(max_digits=18, decimal_places=6)
    low = models.DecimalField(max_digits=18, decimal_places=6)
    close = models.DecimalField(max_digits=18, decimal_places=6)
    volume = models.BigIntegerField()
    known_at = models.DateTimeField()
    source = models.CharField(max_length=64)
    ingested_at = models.DateTimeField()
    # Provenance only. No database constraint or index: bulk imports of millions of bars would pay a
    # per-row check and index insert for it; runs are an audit trail that is never deleted, and the
    # ORM still applies SET_NULL if one is.
    import_run = models.ForeignKey(
        "ImportRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "frequency", "ts"], name="bar_unique_instrument_freq_ts"
            ),
            models.CheckConstraint(
                condition=models.Q(known_at__gte=models.F("ts")), name="bar_known_not_before_end"
            ),
        ]
        indexes = [models.Index(fields=["frequency", "ts"], name="bar_freq_ts")]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.frequency} {self.ts:%Y-%m-%d %H:%M}"


class CorporateAction(models.Model):
    class Kind(models.TextChoices):
        SPLIT = "split", "split"
        DIVIDEND = "dividend", "cash dividend"

    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="corporate_actions")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    ex_date = models.DateField()
    # split: new shares per old share (2.0 for a 2:1 split); dividend: cash per share.
    value = models.DecimalField(max_digits=18, decimal_places=8)
    source = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instrument", "kind", "ex_date"], name="corpaction_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.kind} {self.ex_date} {self.value}"


class ImportRun(models.Model):
    """One attempt to import a file: what it was, what was written, what was rejected and why."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", "succeeded"
        REJECTED = "rejected", "rejected (nothing written)"
        PARTIAL = "partial", "partial (invalid rows skipped)"
        FAILED = "failed", "failed"

    kind = models.CharField(max_length=32, default="bars")  # bars, membership, ...
    file_name = models.CharField(max_length=500)
    file_sha256 = models.CharField(max_length=64, db_index=True)
    frequency = models.CharField(max_length=2, choices=Frequency.choices, blank=True)
    source = models.CharField(max_length=64, blank=True)
    source_tz = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    rows_read = models.PositiveIntegerField(default=0)
    rows_valid = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    rows_inserted = models.PositiveIntegerField(default=0)
    rows_existing = models.PositiveIntegerField(default=0)
    rejects = models.JSONField(default=list, blank=True)  # [{"row": n, "symbol": .., "ts": .., "reason": ..}]
    reject_reasons = models.JSONField(default=dict, blank=True)  # reason -> count
    message = models.TextField(blank=True)
    seconds = models.FloatField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"
