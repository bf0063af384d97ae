"""Admin for research jobs: read-only. Every job row is evidence (its config, seed, data hash,
code version, metrics and result series are what the promotion gates and the result pages rely
on), and its events are an append-only trail, so the admin shows them and changes none. Jobs
are created through the research services and change status through their state machine."""

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import BacktestRun, ParameterSearch, RunEvent, TrainingRun


class RunEventInline(ReadOnlyInline):
    model = RunEvent
    fields = ("from_status", "to_status", "actor", "reason", "at")
    readonly_fields = fields


class JobAdmin(ReadOnlyAdmin):
    list_display = ("id", "strategy", "status", "progress", "created_by", "created_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("strategy__name",)
    exclude = ("series",)  # long result series: shown on the run's page
    inlines = [RunEventInline]


@admin.register(BacktestRun)
class BacktestRunAdmin(JobAdmin):
    list_display = JobAdmin.list_display + ("search", "rank", "score")


@admin.register(TrainingRun)
class TrainingRunAdmin(JobAdmin):
    pass


@admin.register(ParameterSearch)
class ParameterSearchAdmin(JobAdmin):
    list_display = JobAdmin.list_display + ("method", "objective", "n_candidates")


@admin.register(RunEvent)
class RunEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "backtest", "training", "search", "from_status", "to_status", "actor", "reason")
