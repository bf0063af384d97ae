"""Reads for the research pages: what a user may see is decided by the strategy's permissions
(apps.strategies.permissions: a role-wide grant or a guardian grant on the strategy)."""

from __future__ import annotations

from django.db.models import QuerySet
from guardian.shortcuts import get_objects_for_user

from apps.strategies.models import Strategy

from .models import BacktestRun, ParameterSearch, TrainingRun


def strategies_visible(user) -> QuerySet[Strategy]:
    return get_objects_for_user(
        user, ["strategies.view_strategy", "strategies.change_strategy"], klass=Strategy, any_perm=True
    )


def recent_jobs(*, user, limit: int = 30) -> dict[str, list]:
    visible = strategies_visible(user)
    backtests = (
        BacktestRun.objects.filter(strategy__in=visible, search__isnull=True)
        .select_related("strategy", "created_by")
        .defer("series")[:limit]
    )
    return {
        "backtests": list(backtests),
        "trainings": list(
            TrainingRun.objects.filter(strategy__in=visible)
            .select_related("strategy", "created_by")
            .defer("series")[:limit]
        ),
        "searches": list(
            ParameterSearch.objects.filter(strategy__in=visible).select_related("strategy", "created_by")[
                :limit
            ]
        ),
    }


def strategy_jobs(*, strategy, limit: int = 10) -> dict[str, list]:
    return {
        "backtests": list(
            BacktestRun.objects.filter(strategy=strategy, search__isnull=True).defer("series")[:limit]
        ),
        "trainings": list(TrainingRun.objects.filter(strategy=strategy).defer("series")[:limit]),
        "searches": list(ParameterSearch.objects.filter(strategy=strategy)[:limit]),
    }


def job_status(job) -> dict:
    out = {
        "id": job.pk,
        "status": job.status,
        "progress": job.progress,
        "message": job.progress_message,
        "error": job.error.splitlines()[0] if job.error else "",
        "terminal": job.is_terminal,
        "cancel_requested": job.cancel_requested,
    }
    if isinstance(job, ParameterSearch):
        out.update(
            generation=job.generation,
            done=job.generation_done,
            size=job.generation_size,
            n_candidates=job.n_candidates,
        )
    return out
