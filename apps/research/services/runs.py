"""Backtest and training runs: submit (row + event + task on commit), execute (claim, run the
engine, store), cancel.

Execution is idempotent: the worker claims a run with a conditional UPDATE queued -> running, so
a re-delivered task message (acks_late + a lost worker, or a duplicate publish) finds the run no
longer queued and does nothing. A failure records its error on the run and changes nothing else:
the strategy, its config and any model version stay as they were.
"""

from __future__ import annotations

import json
import logging
import re
import traceback

import pandas as pd
from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction

from apps.strategies.config import strategy_config_validate
from apps.universes.models import Universe

from ..models import BacktestRun, Job, Status, TrainingRun
from .panel import panel_build
from .pipeline import backtest_pipeline, train_pipeline
from .results import outcome_to_storage, segment_metrics
from .status import Cancelled, Progress, job_created, run_transition

log = logging.getLogger(__name__)


def _code_version() -> str:
    from apps.strategies.services.versions import code_version

    return code_version()


def config_snapshot(strategy) -> dict:
    """The strategy's config, validated now with defaults filled in: what the run will use."""
    return strategy_config_validate(strategy.config).to_dict()


def _enqueue(job: Job, task) -> None:
    """Send the task after commit, with a task id chosen now and stored on the row (for revoke)."""
    from celery import uuid

    task_id = uuid()
    type(job).objects.filter(pk=job.pk).update(celery_task_id=task_id)
    job.celery_task_id = task_id
    transaction.on_commit(lambda: task.apply_async(args=[job.pk], task_id=task_id))


def backtest_submit(
    *, strategy, actor, model_version=None, config: dict | None = None, reason: str = ""
) -> BacktestRun:
    from ..tasks import backtest_run

    snapshot = strategy_config_validate(config).to_dict() if config is not None else config_snapshot(strategy)
    with transaction.atomic():
        run = BacktestRun.objects.create(
            strategy=strategy,
            model_version=model_version,
            config=snapshot,
            seed=snapshot["seed"],
            code_version=_code_version(),
            created_by=actor,
        )
        job_created(job=run, actor=actor, reason=reason or "backtest submitted")
        _enqueue(run, backtest_run)
    return run


def training_submit(*, strategy, actor, reason: str = "") -> TrainingRun:
    from apps.strategies.registry import strategy_spec

    from ..tasks import training_run

    snapshot = config_snapshot(strategy)
    if not strategy_spec(snapshot["kind"]).trains:
        raise ValueError(
            f"strategy {strategy.name!r} is a {snapshot['kind']} rule: there is no model to train"
        )
    with transaction.atomic():
        run = TrainingRun.objects.create(
            strategy=strategy,
            config=snapshot,
            seed=snapshot["seed"],
            code_version=_code_version(),
            created_by=actor,
        )
        job_created(job=run, actor=actor, reason=reason or "training submitted")
        _enqueue(run, training_run)
    return run


def job_cancel(*, job: Job, actor, reason: str = "cancelled by user") -> Job:
    """A queued job is cancelled now (its task will find it not queued and do nothing; it is also
    revoked); a running one gets the cancel flag, which the worker checks at every progress point."""
    from workers.celery import app

    job.refresh_from_db()
    if job.status == Status.QUEUED:
        if run_transition(
            job=job, to_status=Status.CANCELLED, actor=actor, reason=reason, cancel_requested=True
        ):
            if job.celery_task_id:
                app.control.revoke(job.celery_task_id)
            return job
        job.refresh_from_db()
    if job.status == Status.RUNNING:
        type(job).objects.filter(pk=job.pk).update(cancel_requested=True)
        job.cancel_requested = True
    return job


def _claim(model, run_id: int) -> Job | None:
    job = model.objects.filter(pk=run_id).first()
    if job is None or job.status != Status.QUEUED:
        return None
    if job.cancel_requested:
        return None
    if not run_transition(job=job, to_status=Status.RUNNING, reason="picked up by a worker", progress=0):
        return None
    return job


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, SoftTimeLimitExceeded):
        return "time limit exceeded: the run took longer than the task's soft time limit"
    tail = "".join(traceback.format_exception(exc)[-3:])
    tail = re.sub(r'File "(?:[^"]*/)?([^"/]+)"', r'File "\1"', tail)  # no server paths on a page
    return f"{type(exc).__name__}: {exc}\n\n{tail}"[:5000]


def _build_panel(config: dict, progress: Progress):
    progress(3, "loading data")
    universe = Universe.objects.get(name=config["universe"])
    import datetime as dt

    return panel_build(
        universe=universe,
        frequency=config["frequency"],
        start=dt.date.fromisoformat(config["research"]["start"]),
        end=dt.date.fromisoformat(config["research"]["end"]),
    )


def _finish_failed(job: Job, exc: BaseException) -> None:
    if isinstance(exc, Cancelled):
        run_transition(job=job, to_status=Status.CANCELLED, reason=str(exc))
    else:
        log.exception("research job %s failed", job)
        run_transition(
            job=job,
            to_status=Status.FAILED,
            reason=f"{type(exc).__name__}: {exc}"[:500],
            error=_error_text(exc),
        )


def backtest_execute(*, run_id: int) -> str:
    """Run a queued backtest to completion. Returns the final status ('skipped' if not claimed)."""
    from .search import search_child_finished

    run = _claim(BacktestRun, run_id)
    if run is None:
        return "skipped"
    progress = Progress(run)
    try:
        build = _build_panel(run.config, progress)
        BacktestRun.objects.filter(pk=run.pk).update(data_hash=build.data_hash)
        outcome = backtest_pipeline(panel=build.panel, config=run.config, progress=progress)
        progress(90, "computing metrics")
        extra = {"members_without_bars": len(build.members_without_bars)}
        if run.search_id is not None:
            extra.update(_selection_split(outcome, run.search.settings.get("holdout_fraction", 0.3)))
        metrics, series = outcome_to_storage(outcome, extra_metrics=extra)
        progress(97, "saving results")
        with transaction.atomic():
            if (
                run_transition(
                    job=run,
                    to_status=Status.SUCCEEDED,
                    reason="finished",
                    metrics=metrics,
                    series=series,
                    data_hash=build.data_hash,
                    progress_message="done",
                )
                and run.search_id is not None
            ):
                search_child_finished(search_id=run.search_id, generation=run.generation)
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded on the run
        with transaction.atomic():
            run.refresh_from_db(fields=["status"])
            if run.status == Status.RUNNING:
                _finish_failed(run, exc)
                if run.search_id is not None:
                    search_child_finished(search_id=run.search_id, generation=run.generation)
        if not isinstance(exc, Exception):
            raise
    return run.status


def _selection_split(outcome, holdout_fraction: float) -> dict:
    """In-sample (selection) and hold-out metrics of one search candidate: the search ranks on the
    first part and reports the winner's numbers on the untouched last part."""
    T = len(outcome.result.equity)
    cut = max(2, min(T - 2, int(round(T * (1.0 - holdout_fraction)))))
    return {
        "selection": segment_metrics(outcome, start=0, stop=cut),
        "holdout": segment_metrics(outcome, start=cut, stop=T),
        "holdout_start": str(outcome.result.panel.index[cut])[:16],
    }


def training_execute(*, run_id: int) -> str:
    from apps.strategies.services.versions import model_version_create
    from workers.engine.models import model_to_dict

    run = _claim(TrainingRun, run_id)
    if run is None:
        return "skipped"
    progress = Progress(run)
    try:
        build = _build_panel(run.config, progress)
        TrainingRun.objects.filter(pk=run.pk).update(data_hash=build.data_hash)
        trained = train_pipeline(panel=build.panel, config=run.config, progress=progress)
        progress(85, "saving the artifact")
        payload = json.dumps(model_to_dict(trained.model), sort_keys=True).encode()
        index = pd.DatetimeIndex(build.panel.index).tz_localize("UTC")
        window = (
            index[trained.train_start_row].to_pydatetime(),
            index[trained.train_end_row].to_pydatetime(),
        )
        metrics = {
            "n_train_rows": trained.n_rows,
            "n_features": len(trained.feature_names),
            "importance_top": dict(list(trained.model.feature_importance().items())[:15]),
        }
        with transaction.atomic():
            version = model_version_create(
                strategy=run.strategy,
                created_by=run.created_by,
                artifact_bytes=payload,
                artifact_name=f"{run.strategy.name}-training-{run.pk}.json",
                training_window=window,
                data_hash=build.data_hash,
                metrics=metrics,
                config=run.config,
            )
            run_transition(
                job=run,
                to_status=Status.SUCCEEDED,
                reason=f"trained version {version.version}",
                model_version=version,
                metrics=metrics,
                data_hash=build.data_hash,
                progress_message="done",
            )
    except BaseException as exc:  # noqa: BLE001
        with transaction.atomic():
            run.refresh_from_db(fields=["status"])
            if run.status == Status.RUNNING:
                _finish_failed(run, exc)
        if not isinstance(exc, Exception):
            raise
    return run.status
