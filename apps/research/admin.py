from django.contrib import admin

from .models import BacktestRun, ParameterSearch, RunEvent, TrainingRun


class RunEventInline(admin.TabularInline):
    model = RunEvent
    extra = 0
    can_delete = False
    readonly_fields = ("from_status", "to_status", "actor", "reason", "at")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "strategy", "status", "progress", "created_by", "created_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("strategy__name",)
    readonly_fields = (
        "status",
        "progress",
        "progress_message",
        "error",
        "config",
        "seed",
        "code_version",
        "celery_task_id",
        "created_at",
        "started_at",
        "finished_at",
    )
    exclude = ("series",)
    inlines = [RunEventInline]


@admin.register(BacktestRun)
class BacktestRunAdmin(JobAdmin):
    list_display = JobAdmin.list_display + ("search", "rank", "score")
    raw_id_fields = ("strategy", "model_version", "search")


@admin.register(TrainingRun)
class TrainingRunAdmin(JobAdmin):
    raw_id_fields = ("strategy", "model_version")


@admin.register(ParameterSearch)
class ParameterSearchAdmin(JobAdmin):
    list_display = JobAdmin.list_display + ("method", "objective", "n_candidates")
    raw_id_fields = ("strategy",)


@admin.register(RunEvent)
class RunEventAdmin(admin.ModelAdmin):
    list_display = ("at", "backtest", "training", "search", "from_status", "to_status", "actor", "reason")
    readonly_fields = ("backtest", "training", "search", "from_status", "to_status", "actor", "reason", "at")
