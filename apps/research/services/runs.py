"""Backtest and training runs: submit (permission, row + event + task on commit) and execute.

Every kind of run executes through one template, `_execute`: claim (queued -> running, with a
lease; see services.jobs) -> build the point-in-time panel -> run the kind's engine pipeline ->
store the results and succeed in one transaction. A re-delivered task finds the run claimed and
does nothing, unless the run's worker was lost (lease expired), in which case it takes it over. A
failure records its error on the run and changes nothing else: the strategy, its config and any
model version stay as they were.

The calls into the panel builder and the engine pipelines are in this module only
(`_build_panel`, `_backtest`, `_training`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction

from apps.marketdata.selectors.panel import PanelBuild, panel_build
from apps.strategies.config import strategy_config_validate
from apps.strategies.registry import strategy_spec
from apps.strategies.services.versions import code_version, model_version_create
from apps.universes.models import Universe
from workers.engine.decide.research import backtest_pipeline, train_pipeline
from workers.engine.models import model_to_dict, top_features

from ..models import BacktestRun, Run, Status, TrainingRun
from .jobs import (
    Cancelled,
    LeaseLost,
    Progress,
    config_snapshot,
    job_cancel_checked,
    job_claim,
    job_created,
    job_edit_check,
    job_enqueue,
    job_lease,
    job_transition,
)
from .results import outcome_to_storage, segment_metrics

log = logging.getLogger(__name__)


def backtest_submit(
    *, strategy, actor, model_version=None, config: dict | None = None, reason: str = ""
) -> BacktestRun:
    job_edit_check(actor=actor, strategy=strategy)
    snapshot = strategy_config_validate(config).to_dict() if config is not None else config_snapshot(strategy)
    with transaction.atomic():
        run = BacktestRun.objects.create(
            strategy=strategy,
            model_version=model_version,
            config=snapshot,
            seed=snapshot["seed"],
            code_version=code_version(),
            created_by=actor,
        )
        job_created(job=run, actor=actor, reason=reason or "backtest submitted")
        job_enqueue(job=run, task="backtest")
    return run


def training_submit(*, strategy, actor, reason: str = "") -> TrainingRun:
    job_edit_check(actor=actor, strategy=strategy)
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
            code_version=code_version(),
            created_by=actor,
        )
        job_created(job=run, actor=actor, reason=reason or "training submitted")
        job_enqueue(job=run, task="training")
    return run


def job_cancel(*, job: Run, actor, reason: str = "cancelled by user") -> Run:
    """Cancel a backtest or training run (see jobs.job_cancel_checked), if `actor` may."""
    job_edit_check(actor=actor, strategy=job.strategy)
    return job_cancel_checked(job=job, actor=actor, reason=reason)


@dataclass(frozen=True)
class Finished:
    """What a run's pipeline produced. `store`, when given, runs inside the transaction of the
    success transition (rows the result depends on, e.g. a model version) and returns the
    transition's reason and extra fields."""

    reason: str
    fields: dict
    store: Callable[[], tuple[str, dict]] | None = None


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, SoftTimeLimitExceeded):
        return "time limit exceeded: the run took longer than the task's soft time limit"
    tail = "".join(traceback.format_exception(exc)[-3:])
    tail = re.sub(r'File "(?:[^"]*/)?([^"/]+)"', r'File "\1"', tail)  # no server paths on a page
    return f"{type(exc).__name__}: {exc}\n\n{tail}"[:5000]


def _build_panel(config: dict, progress: Progress) -> PanelBuild:
    progress(3, "loading data")
    return panel_build(
        universe=Universe.objects.get(name=config["universe"]),
        frequency=config["frequency"],
        start=dt.date.fromisoformat(config["research"]["start"]),
        end=dt.date.fromisoformat(config["research"]["end"]),
    )


def _record_failure(run: Run, exc: BaseException) -> None:
    """Record why the run stopped, if it is still ours to record (a lost lease is not)."""
    if isinstance(exc, LeaseLost):
        log.warning("research job %s: %s; its new holder records the outcome", run, exc)
        return
    with transaction.atomic():
        run.refresh_from_db(fields=["status", "lease_owner"])
        if run.status != Status.RUNNING:
            return
        if isinstance(exc, Cancelled):
            job_transition(job=run, event="cancel", reason=str(exc))
        else:
            log.exception("research job %s failed", run)
            job_transition(
                job=run, event="fail", reason=f"{type(exc).__name__}: {exc}"[:500], error=_error_text(exc)
            )


def _execute(model: type[Run], run_id: int, pipeline: Callable[[Run, PanelBuild, Progress], Finished]) -> str:
    """The one template of every run kind. Returns the final status ('skipped' if not claimed)."""
    run = job_claim(model=model, pk=run_id)
    if run is None:
        return "skipped"
    with job_lease(run) as progress:
        try:
            build = _build_panel(run.config, progress)
            model.objects.filter(pk=run.pk).update(data_hash=build.data_hash)
            done = pipeline(run, build, progress)
            with transaction.atomic():
                reason, stored = done.store() if done.store else (done.reason, {})
                won = job_transition(
                    job=run,
                    event="succeed",
                    reason=reason,
                    data_hash=build.data_hash,
                    progress_message="done",
                    **done.fields,
                    **stored,
                )
                if not won:  # reaped or taken over meanwhile: what we stored is not the run's
                    transaction.set_rollback(True)
        except BaseException as exc:  # noqa: BLE001 - every failure is recorded on the run
            _record_failure(run, exc)
            if not isinstance(exc, Exception):
                raise
    run.refresh_from_db(fields=["status"])
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


def _backtest(run: BacktestRun, build: PanelBuild, progress: Progress) -> Finished:
    outcome = backtest_pipeline(panel=build.panel, config=run.config, progress=progress)
    progress(90, "computing metrics")
    extra = {"members_without_bars": len(build.members_without_bars)}
    if run.search_id is not None:
        extra.update(_selection_split(outcome, run.search.settings.get("holdout_fraction", 0.3)))
    metrics, series = outcome_to_storage(outcome, extra_metrics=extra)
    progress(97, "saving results")
    return Finished(reason="finished", fields={"metrics": metrics, "series": series})


def _training(run: TrainingRun, build: PanelBuild, progress: Progress) -> Finished:
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
        "importance_top": top_features(trained.model.feature_importance(), n=15),
    }

    def store() -> tuple[str, dict]:
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
        return f"trained version {version.version}", {"model_version": version}

    return Finished(reason="trained", fields={"metrics": metrics}, store=store)


def backtest_execute(*, run_id: int) -> str:
    """Run a queued backtest to completion. Returns the final status ('skipped' if not claimed)."""
    return _execute(BacktestRun, run_id, _backtest)


def training_execute(*, run_id: int) -> str:
    """Run a queued training to completion: a new research-stage model version on success."""
    return _execute(TrainingRun, run_id, _training)
