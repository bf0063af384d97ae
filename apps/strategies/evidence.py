"""Evidence for promotions and the gates judged on it, read side (no writes: the services and the
selectors both use it). Runs of other apps are read through a small protocol.

A request stores a JSON snapshot of its evidence (kind, id, status, key metrics, the sha256 of
the run's config snapshot, and a digest of the run's whole stored result) so the record stays
readable whatever happens to the runs later. At approval the runs are read again: a run whose
stored result no longer has the recorded digest (rewritten or vanished since the request) stops
the approval and every difference is shown (`evidence_changes`); the gates are judged on the runs
as they are now — including their config, which the candidate gate compares with the version's
(see `lifecycle.config_sha256`).

Sources are model labels per evidence kind: backtests are `research.BacktestRun`; paper-trading
summaries are the live desk's `live.PaperEvidence` (`settings.STRATEGY_EVIDENCE_SOURCES`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import Q

from .errors import LifecycleError
from .lifecycle import (
    TransitionNotAllowed,
    config_sha256,
    gates_evaluate,
)
from .models import LifecycleEvent, ModelVersion, Strategy

DEFAULT_EVIDENCE_SOURCES = {"backtest": "research.BacktestRun"}
# Where a person can look at the run behind an evidence item.
EVIDENCE_URLS = {"backtest": "/research/backtests/{pk}/"}
# Metrics copied into the snapshot (the runs may carry long series we do not want to freeze).
SNAPSHOT_METRICS = (
    "sharpe",
    "max_drawdown",
    "n_trades",
    "oos",
    "cagr",
    "total_return",
    "turnover",
    "paper_days",
    "tracking_error",
)


# The stored result of a run that its digest covers: everything a number on its page or a gate
# comes from. A change to any of them after the request (an admin, a shell, a bad migration)
# changes the digest, and the approval refuses to go on.
DIGEST_FIELDS = ("status", "metrics", "config", "seed", "data_hash", "code_version", "series")


def result_digest(run) -> str:
    """sha256 of the run's stored result as canonical JSON (sorted keys, no whitespace)."""
    stored = {name: getattr(run, name, None) for name in DIGEST_FIELDS}
    text = json.dumps(stored, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class EvidenceItem:
    kind: str
    pk: int
    status: str
    metrics: dict[str, Any] = field(default_factory=dict)
    config_sha: str = ""  # config_sha256 of the run's config snapshot; "" when missing or none
    digest: str = ""  # result_digest of the run as read; "" when the run is missing

    @property
    def url(self) -> str:
        template = EVIDENCE_URLS.get(self.kind)
        return template.format(pk=self.pk) if template else ""

    def snapshot(self) -> dict[str, Any]:
        metrics = {k: self.metrics[k] for k in SNAPSHOT_METRICS if k in self.metrics}
        return {
            "kind": self.kind,
            "id": self.pk,
            "status": self.status,
            "metrics": metrics,
            "config_sha256": self.config_sha,
            "digest": self.digest,
            "url": self.url,
        }


def _item(kind: str, run) -> EvidenceItem:
    """An evidence item read from a run as it is now. A source without a config (or with a config
    that is not a JSON object) gets no sha, so a gate that binds evidence to a config fails on it."""
    config = getattr(run, "config", None)
    sha = config_sha256(config) if isinstance(config, dict) else ""
    return EvidenceItem(
        kind=kind,
        pk=run.pk,
        status=str(run.status),
        metrics=dict(run.metrics or {}),
        config_sha=sha,
        digest=result_digest(run),
    )


def evidence_sources() -> dict[str, str]:
    return {**DEFAULT_EVIDENCE_SOURCES, **getattr(settings, "STRATEGY_EVIDENCE_SOURCES", {})}


def evidence_model(kind: str):
    """The model class holding evidence of `kind`, or None when that app is not installed."""
    label = evidence_sources().get(kind)
    if label is None:
        return None
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def _runs_of(model, version: ModelVersion):
    """Runs of this strategy that are either of this version or of no particular version (a rule
    strategy backtested from its config); runs of another version are not evidence for this one."""
    qs = model.objects.filter(strategy=version.strategy)
    if any(f.name == "model_version" for f in model._meta.get_fields()):
        qs = qs.filter(Q(model_version=version) | Q(model_version__isnull=True))
    return qs


def evidence_resolve(*, model_version: ModelVersion, refs: Iterable[tuple[str, int]]) -> list[EvidenceItem]:
    """Read the referenced runs now. Unknown kinds, missing runs, or runs of another strategy are
    a clear error (a request must not cite evidence that is not there)."""
    items: list[EvidenceItem] = []
    for kind, pk in refs:
        model = evidence_model(kind)
        if model is None:
            raise LifecycleError(f"no source of {kind!r} evidence in this build")
        run = _runs_of(model, model_version).filter(pk=pk).first()
        if run is None:
            raise LifecycleError(f"{kind} #{pk} is not a run of {model_version}")
        items.append(_item(kind, run))
    return items


def evidence_reread(*, model_version: ModelVersion, snapshot: Sequence[dict]) -> list[EvidenceItem]:
    """Re-read a request's evidence for the approval re-check. A run that is gone is kept with
    status "missing" so the gate fails on it instead of quietly dropping it."""
    items = []
    for entry in snapshot:
        kind, pk = entry["kind"], entry["id"]
        model = evidence_model(kind)
        run = _runs_of(model, model_version).filter(pk=pk).first() if model is not None else None
        if run is None:
            items.append(EvidenceItem(kind=kind, pk=pk, status="missing", metrics={}))
        else:
            items.append(_item(kind, run))
    return items


def evidence_candidates(*, model_version: ModelVersion, kind: str = "backtest") -> list[Any]:
    """Finished runs a requester can attach to a request for this version (newest first)."""
    model = evidence_model(kind)
    if model is None:
        return []
    return list(_runs_of(model, model_version).order_by("-pk")[:100])


def evidence_changes(*, snapshot: Sequence[dict], now: Sequence[EvidenceItem]) -> list[dict[str, Any]]:
    """What differs between the evidence as captured at request time and as stored now: one row
    per changed field (`item`, `field`, `then`, `now`). Empty when every run's result digest is
    the one recorded. A changed digest always yields at least one row, naming the fields that
    moved or, when none of the snapshotted ones did, the stored result itself."""
    current = {(e.kind, e.pk): e for e in now}
    changes: list[dict[str, Any]] = []
    for entry in snapshot:
        label = f"{entry['kind']} #{entry['id']}"
        item = current.get((entry["kind"], entry["id"]))
        recorded = entry.get("digest") or ""
        if item is not None and recorded and item.digest == recorded:
            continue
        rows = []
        if item is None or item.status == "missing":
            rows.append({"field": "run", "then": "present", "now": "missing"})
        else:
            if not recorded:
                rows.append({"field": "digest", "then": "none recorded", "now": item.digest[:12]})
            now_snap = item.snapshot()
            if entry.get("status") != item.status:
                rows.append({"field": "status", "then": entry.get("status"), "now": item.status})
            then_m, now_m = entry.get("metrics") or {}, now_snap["metrics"]
            for key in SNAPSHOT_METRICS:
                if then_m.get(key) != now_m.get(key):
                    rows.append({"field": key, "then": then_m.get(key), "now": now_m.get(key)})
            if entry.get("config_sha256") != item.config_sha:
                rows.append(
                    {
                        "field": "config",
                        "then": (entry.get("config_sha256") or "")[:12],
                        "now": item.config_sha[:12],
                    }
                )
            if recorded and not rows:
                rows.append({"field": "stored result", "then": recorded[:12], "now": item.digest[:12]})
        changes.extend({"item": label, **row} for row in rows)
    return changes


def gate_thresholds(strategy: Strategy) -> dict[str, float]:
    """The desk's bar, `settings.STRATEGY_GATES` (the risk officers' thresholds, defined once in
    tradingsite/settings/desk.py), then the strategy's own `gates` section — which may only
    TIGHTEN the desk bar: a quant must not be able to lower the gates their own model is judged
    by."""
    out = dict(settings.STRATEGY_GATES)
    overrides = (strategy.config or {}).get("gates") or {}
    for key, value in overrides.items():
        if key not in out or value is None:
            continue
        out[key] = min(out[key], value) if key.startswith("max_") else max(out[key], value)
    return out


def stages_entered(version: ModelVersion) -> set[str]:
    """Stages this version has been moved into, from the log (the log is the history)."""
    return set(
        LifecycleEvent.objects.filter(
            model_version=version, action=LifecycleEvent.Action.TRANSITION
        ).values_list("to_stage", flat=True)
    )


def gates_check(*, version: ModelVersion, to_stage: str, evidence: list[EvidenceItem]) -> list[dict]:
    """The gates for moving `version` to `to_stage` on this evidence, judged against the version's
    own config snapshot (so evidence must be of the configuration the version was built from)."""
    try:
        results = gates_evaluate(
            from_stage=version.stage,
            to_stage=to_stage,
            evidence=evidence,
            thresholds=gate_thresholds(version.strategy),
            stages_entered=stages_entered(version),
            config_sha=config_sha256(version.config or {}),
        )
    except TransitionNotAllowed as exc:
        raise LifecycleError(str(exc)) from None
    return [r.to_dict() for r in results]
