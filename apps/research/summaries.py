"""Reads that summarise a strategy's research for the strategy pages: the latest version with its
stage and the Sharpe of its newest finished backtest. A backtest counts for a version when it is
a run of that version (learned models) or, for rules (no artifact, no model_version on the run),
a standalone run of exactly the version's config — the same binding the candidate gate uses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from apps.strategies.configdiff import config_diff
from apps.strategies.lifecycle import config_sha256
from apps.strategies.models import ModelVersion

from . import charts
from .models import BacktestRun, Status

RECENT_BACKTESTS = 200  # per page of strategies: enough to find each latest version's run


@dataclass(frozen=True)
class VersionFigures:
    version: int
    stage: str
    sharpe: float | None
    backtest_id: int | None


def latest_version_figures(strategy_ids: Iterable[int]) -> dict[int, VersionFigures]:
    """{strategy id: figures of its latest version} for the strategies that have a version."""
    ids = list(strategy_ids)
    latest: dict[int, ModelVersion] = {}
    for mv in ModelVersion.objects.filter(strategy_id__in=ids).order_by("strategy_id", "-version"):
        latest.setdefault(mv.strategy_id, mv)
    shas = {mv.pk: config_sha256(mv.config or {}) for mv in latest.values()}
    found: dict[int, BacktestRun] = {}
    runs = (
        BacktestRun.objects.filter(strategy_id__in=list(latest), status=Status.SUCCEEDED, search__isnull=True)
        .only("pk", "strategy_id", "model_version_id", "config", "metrics")
        .order_by("-pk")[:RECENT_BACKTESTS]
    )
    for run in runs:
        mv = latest[run.strategy_id]
        if run.strategy_id in found:
            continue
        if run.model_version_id == mv.pk or (
            run.model_version_id is None
            and isinstance(run.config, dict)
            and config_sha256(run.config) == shas[mv.pk]
        ):
            found[run.strategy_id] = run
    return {
        sid: VersionFigures(
            version=mv.version,
            stage=mv.stage,
            sharpe=(found[sid].metrics or {}).get("sharpe") if sid in found else None,
            backtest_id=found[sid].pk if sid in found else None,
        )
        for sid, mv in latest.items()
    }


@dataclass(frozen=True)
class ValueEffect:
    value: object
    n: int  # candidates with this value that have a score
    mean_score: float | None
    best_score: float | None
    mean_holdout_sharpe: float | None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def search_sensitivity(
    children: Iterable[BacktestRun], param_names: list[str]
) -> dict[str, list[ValueEffect]]:
    """Per parameter, per value it took: how the candidates with that value scored on the
    selection period (mean and best of the objective) and their mean hold-out Sharpe. A flat
    row across values says the objective barely depends on that parameter; a peak at one value
    with poor neighbours warns of an overfit pick."""
    runs = [r for r in children if r.status == Status.SUCCEEDED]
    out: dict[str, list[ValueEffect]] = {}
    for name in param_names:
        groups: dict[str, tuple[object, list[BacktestRun]]] = {}
        for run in runs:
            if name in (run.candidate_params or {}):
                value = run.candidate_params[name]
                groups.setdefault(repr(value), (value, []))[1].append(run)
        effects = []
        for value, members in groups.values():
            scores = [r.score for r in members if r.score is not None]
            holdout = [
                h
                for r in members
                if (h := ((r.metrics or {}).get("holdout") or {}).get("sharpe")) is not None
            ]
            effects.append(
                ValueEffect(
                    value=value,
                    n=len(scores),
                    mean_score=_mean(scores),
                    best_score=max(scores) if scores else None,
                    mean_holdout_sharpe=_mean(holdout),
                )
            )
        out[name] = sorted(
            effects,
            key=lambda e: (
                not isinstance(e.value, int | float),
                e.value if isinstance(e.value, int | float) else str(e.value),
            ),
        )
    return out


@dataclass(frozen=True)
class RequestReview:
    """What an approver reads beside the gates: each backtest's equity curve and how the
    version's config differs from the version before it."""

    equity_charts: list[tuple[int, object]]  # (backtest id, SVG)
    previous_version: int | None
    config_changes: list | None  # None when there is no previous version

    @property
    def previous_label(self) -> str:
        return f"v{self.previous_version}" if self.previous_version else "previous version"


def request_review(request) -> RequestReview:
    ids = [e["id"] for e in request.evidence or [] if e.get("kind") == "backtest"]
    runs = BacktestRun.objects.filter(pk__in=ids, strategy=request.model_version.strategy).only(
        "pk", "series", "metrics"
    )
    equity = []
    for run in sorted(runs, key=lambda r: r.pk):
        s = run.series or {}
        if not s.get("equity"):
            continue
        bench = f"{(run.metrics or {}).get('benchmark_symbol', 'SPY')} (benchmark)"
        equity.append(
            (
                run.pk,
                charts.line_chart(
                    s["index"],
                    {f"backtest #{run.pk}": s["equity"], bench: s.get("benchmark", [])},
                    title=f"Equity of backtest #{run.pk}",
                    fmt="money",
                    unit="equity, USD",
                ),
            )
        )
    version = request.model_version
    previous = (
        ModelVersion.objects.filter(strategy_id=version.strategy_id, version__lt=version.version)
        .order_by("-version")
        .first()
    )
    return RequestReview(
        equity_charts=equity,
        previous_version=previous.version if previous else None,
        config_changes=config_diff(previous.config, version.config) if previous else None,
    )
