"""Parameter searches: one child BacktestRun per candidate, fanned out as a Celery group; when the
last child of a generation finishes, a ranking task scores them (and, for the genetic method,
breeds the next generation until the last one).

The completion counter that triggers the ranking lives in services.jobs: a child's terminal
transition, whichever path made it (success, failure, cancel, a lost worker reaped), counts it in
the same transaction, so a re-delivered child never counts twice. A generation whose candidates
all failed ends the search failed, with their reasons; a partly failed one says how many failed.

Judging out of sample: each candidate is backtested over the research window; the search ranks
candidates on the first part (the selection period) and reports every candidate's, and so the
winner's, metrics on the untouched last `holdout_fraction` of the window. For learned strategies
the whole backtest is already walk-forward out of sample.
"""

from __future__ import annotations

import json
import random
import uuid

from django.db import transaction
from django.db.models import F

from apps.strategies.config import ConfigValidationError, strategy_config_validate
from apps.strategies.services.versions import code_version
from workers.engine.objectives import OBJECTIVES, objective_score

from ..models import BacktestRun, ParameterSearch, Status
from .candidates import (
    ParamSpaceError,
    apply_params,
    ga_next_generation,
    grid_candidates,
    param_space_validate,
    random_candidates,
)
from .jobs import (
    config_snapshot,
    job_cancel_checked,
    job_created,
    job_edit_check,
    job_transition,
    jobs_enqueue_group,
)

DEFAULT_SETTINGS = {
    "n_samples": 10,
    "population": 8,
    "generations": 3,
    "mutation": 0.2,
    "crossover": 0.7,
    "holdout_fraction": 0.3,
}


def _settings_validate(method: str, settings: dict | None) -> dict:
    out = dict(DEFAULT_SETTINGS)
    for key, value in (settings or {}).items():
        if key not in DEFAULT_SETTINGS:
            raise ParamSpaceError(
                f"unknown search setting {key!r}; expected one of {', '.join(DEFAULT_SETTINGS)}"
            )
        out[key] = value
    for key in ("n_samples", "population", "generations"):
        if not isinstance(out[key], int) or isinstance(out[key], bool) or not 1 <= out[key] <= 200:
            raise ParamSpaceError(f"{key} must be an integer in 1..200, got {out[key]!r}")
    for key in ("mutation", "crossover"):
        if not isinstance(out[key], (int, float)) or not 0 <= out[key] <= 1:
            raise ParamSpaceError(f"{key} must be in [0, 1], got {out[key]!r}")
    if not isinstance(out["holdout_fraction"], (int, float)) or not 0.1 <= out["holdout_fraction"] <= 0.5:
        raise ParamSpaceError(f"holdout_fraction must be in [0.1, 0.5], got {out['holdout_fraction']!r}")
    if method == "evolutionary" and out["population"] < 2:
        raise ParamSpaceError("an evolutionary search needs a population of at least 2")
    return out


def _candidate_configs(base: dict, candidates: list[dict]) -> list[dict]:
    """Each candidate's full config, validated now, so a bad combination fails the submission
    (naming the candidate) instead of failing a worker later."""
    out = []
    for cand in candidates:
        try:
            out.append(strategy_config_validate(apply_params(base, cand)).to_dict())
        except ConfigValidationError as exc:
            raise ParamSpaceError(f"candidate {cand} is not a valid config: {exc}") from None
    return out


def _spawn(search: ParameterSearch, candidates: list[dict], generation: int) -> list[BacktestRun]:
    """Create the children of one generation and send them as a Celery group after commit."""
    configs = _candidate_configs(search.config, candidates)
    runs = BacktestRun.objects.bulk_create(
        [
            BacktestRun(
                strategy=search.strategy,
                config=cfg,
                seed=cfg["seed"],
                code_version=search.code_version,
                created_by=search.created_by,
                search=search,
                generation=generation,
                candidate_params=cand,
                celery_task_id=uuid.uuid4().hex,
            )
            for cand, cfg in zip(candidates, configs, strict=True)
        ]
    )
    if any(r.pk is None for r in runs):  # backends without RETURNING: re-read in creation order
        runs = list(search.runs.filter(generation=generation).order_by("pk"))
    for run in runs:
        job_created(job=run, actor=search.created_by, reason=f"search #{search.pk} generation {generation}")
    jobs_enqueue_group(jobs=runs, task="backtest")
    return runs


def search_submit(
    *,
    strategy,
    actor,
    method: str,
    param_space: dict,
    objective: str = "sharpe",
    settings: dict | None = None,
) -> ParameterSearch:
    job_edit_check(actor=actor, strategy=strategy)
    if method not in ParameterSearch.Method.values:
        raise ParamSpaceError(
            f"unknown search method {method!r}; expected one of {', '.join(ParameterSearch.Method.values)}"
        )
    if objective not in OBJECTIVES:
        raise ParamSpaceError(f"unknown objective {objective!r}; expected one of {', '.join(OBJECTIVES)}")
    space = param_space_validate(param_space)
    opts = _settings_validate(method, settings)
    base = config_snapshot(strategy)
    seed = int(base["seed"])
    if method == "grid":
        candidates = grid_candidates(space)
    elif method == "random":
        candidates = random_candidates(space, n=opts["n_samples"], seed=seed)
    else:
        candidates = random_candidates(space, n=opts["population"], seed=seed)
    _candidate_configs(base, candidates)  # fail fast, before any row exists
    with transaction.atomic():
        search = ParameterSearch.objects.create(
            strategy=strategy,
            method=method,
            objective=objective,
            param_space=space,
            settings=opts,
            config=base,
            seed=seed,
            code_version=code_version(),
            created_by=actor,
        )
        job_created(job=search, actor=actor, reason=f"{method} search submitted")
        runs = _spawn(search, candidates, 0)
        job_transition(
            job=search,
            event="start",
            actor=actor,
            reason=f"{len(runs)} candidates enqueued",
            n_candidates=len(runs),
            generation_size=len(runs),
            generation_done=0,
        )
    return search


def _score_children(search: ParameterSearch) -> list[BacktestRun]:
    children = list(search.runs.order_by("pk"))
    for run in children:
        selection = run.metrics.get("selection") if run.status == Status.SUCCEEDED else None
        score = objective_score(selection, search.objective)
        if score != run.score:
            BacktestRun.objects.filter(pk=run.pk).update(score=score)
            run.score = score
    return children


def _results_table(children: list[BacktestRun]) -> list[dict]:
    keys = ("sharpe", "calmar", "max_drawdown", "total_return", "n_trades")
    rows = []
    for run in children:
        rows.append(
            {
                "run": run.pk,
                "rank": run.rank,
                "generation": run.generation,
                "status": run.status,
                "params": run.candidate_params,
                "score": run.score,
                "selection": {k: (run.metrics.get("selection") or {}).get(k) for k in keys},
                "holdout": {k: (run.metrics.get("holdout") or {}).get(k) for k in keys},
            }
        )
    return sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0, r["run"]))


def search_advance(*, search_id: int, generation: int) -> str:
    """Score the finished generation; breed the next one (evolutionary) or rank and finish.
    A duplicate call for the same generation finds it already advanced and does nothing."""
    with transaction.atomic():
        search = ParameterSearch.objects.select_for_update().filter(pk=search_id).first()
        if search is None or search.status != Status.RUNNING or search.generation != generation:
            return "skipped"
        if search.generation_done < search.generation_size:
            return "waiting"
        children = _score_children(search)
        opts = search.settings
        if search.method == ParameterSearch.Method.EVOLUTIONARY and generation + 1 < opts["generations"]:
            seen = {_key(r.candidate_params) for r in children}
            rng = random.Random(search.seed * 1000 + generation + 1)
            nxt = ga_next_generation(
                search.param_space,
                scored=[(r.candidate_params, r.score) for r in children],
                size=opts["population"],
                mutation=opts["mutation"],
                crossover=opts["crossover"],
                rng=rng,
                seen=seen,
            )
            if nxt:
                runs = _spawn(search, nxt, generation + 1)
                ParameterSearch.objects.filter(pk=search.pk).update(
                    generation=generation + 1,
                    generation_size=len(runs),
                    generation_done=0,
                    n_candidates=F("n_candidates") + len(runs),
                    progress_message=f"generation {generation + 1}: {len(runs)} candidates enqueued",
                )
                return "next_generation"
        ranked = sorted((r for r in children if r.score is not None), key=lambda r: (-r.score, r.pk))
        for position, run in enumerate(ranked, start=1):
            run.rank = position
        BacktestRun.objects.bulk_update(ranked, ["rank"])
        table = _results_table(children)
        failed = [r for r in children if r.status != Status.SUCCEEDED]
        if len(failed) == len(children):
            why = "\n".join(_child_failure(r) for r in failed)
            job_transition(
                job=search,
                event="fail",
                reason=f"no candidate succeeded ({len(children)} evaluated)",
                error=f"no candidate succeeded ({len(children)} evaluated):\n{why}"[:5000],
                results=table,
                progress_message="no candidate succeeded",
            )
            return Status.FAILED
        best = ranked[0] if ranked else None
        reason = (
            f"ranked {len(ranked)} of {len(children)} candidates by {search.objective}; best run #{best.pk}"
            if best
            else f"no candidate could be scored ({len(children)} evaluated)"
        )
        if failed:
            reason += f"; {len(failed)} of {len(children)} candidates failed"
        job_transition(job=search, event="succeed", reason=reason, results=table, progress_message="ranked")
    return "ranked"


def _child_failure(run: BacktestRun) -> str:
    first_line = run.error.splitlines()[0] if run.error else ""
    last = run.events.order_by("-at", "-pk").first()
    return (
        f"run #{run.pk} {run.candidate_params}: {run.status}: {first_line or (last.reason if last else '')}"
    )


def _key(params: dict) -> str:
    return json.dumps(params, sort_keys=True)


def search_cancel(*, search: ParameterSearch, actor, reason: str = "cancelled by user") -> ParameterSearch:
    """Stop the search: it becomes cancelled now; queued children are cancelled (their tasks are
    revoked and would no-op anyway); running children get the cancel flag."""
    job_edit_check(actor=actor, strategy=search.strategy)
    with transaction.atomic():
        search.refresh_from_db()
        if search.status in (Status.QUEUED, Status.RUNNING):
            job_transition(
                job=search,
                event="cancel",
                actor=actor,
                reason=reason,
                cancel_requested=True,
            )
    for run in search.runs.filter(status__in=[Status.QUEUED, Status.RUNNING]).order_by("pk"):
        job_cancel_checked(job=run, actor=actor, reason=f"search #{search.pk} cancelled")
    return search
