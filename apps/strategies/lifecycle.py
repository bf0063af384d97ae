"""The model-version lifecycle: the one transition table, the promotion requests' table, and the
gates that guard each transition. Both tables are applied by `apps.core.statemachine` (conditional
update + a LifecycleEvent row) in the services; stage names are `models.Stage`, gate thresholds
come from `settings.STRATEGY_GATES` (tradingsite/settings/desk.py), each defined once.

The gates are pure functions over plain data (no database): `evidence.py` gathers the evidence
items, the gate thresholds and the stages a version has entered before, and these functions say
whether each gate passes, with the value and threshold of every check so a person can see *why*.

Evidence items follow a small protocol (`.kind`, `.pk`, `.status`, `.metrics`, `.config_sha`),
satisfied by the `EvidenceItem` snapshot `evidence.py` builds from the research app's runs.

Evidence is bound to the configuration it was produced with: a backtest only counts for a version
whose config snapshot hashes the same (`config_sha256`). Without that, a backtest of config A
could carry a version trained on an edited config B through the candidate gate.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from apps.core.statemachine import StateMachine
from apps.research.models import Status

from .models import RequestKind, RequestStatus, Stage

RESEARCH, CANDIDATE, PAPER, LIVE, RETIRED = (
    Stage.RESEARCH,
    Stage.CANDIDATE,
    Stage.PAPER,
    Stage.LIVE,
    Stage.RETIRED,
)
# The events of a model version's stage are the kinds of request that move it.
PROMOTE, ROLLBACK, RETIRE = RequestKind.PROMOTE, RequestKind.ROLLBACK, RequestKind.RETIRE

# The one table of the model-version lifecycle: (stage, event) -> (next stage, gate that must
# pass). Anything not listed is not a transition. Every transition is a PromotionRequest decided
# by a second person; entering live retires the previous live version in the same transaction.
# retired --rollback--> live is the rollback, and its gate only admits versions that were live.
LIFECYCLE: dict[tuple[str, str], tuple[str, str]] = {
    (RESEARCH, PROMOTE): (CANDIDATE, "backtest_oos"),
    (CANDIDATE, PROMOTE): (PAPER, "was_candidate"),
    (PAPER, PROMOTE): (LIVE, "paper_tracking"),
    (RETIRED, ROLLBACK): (LIVE, "previously_live"),
    (RESEARCH, RETIRE): (RETIRED, "none"),
    (CANDIDATE, RETIRE): (RETIRED, "none"),
    (PAPER, RETIRE): (RETIRED, "none"),
    (LIVE, RETIRE): (RETIRED, "none"),
}
STAGE_MACHINE = StateMachine(
    name="model version",
    table={key: to for key, (to, _gate) in LIFECYCLE.items()},
    state_field="stage",
)

# A promotion request is decided once: approved, rejected, or withdrawn by its requester.
APPROVE, REJECT, CANCEL = "approve", "reject", "cancel"
REQUEST_MACHINE = StateMachine(
    name="promotion request",
    table={
        (RequestStatus.PENDING, APPROVE): RequestStatus.APPROVED,
        (RequestStatus.PENDING, REJECT): RequestStatus.REJECTED,
        (RequestStatus.PENDING, CANCEL): RequestStatus.CANCELLED,
    },
    terminal=frozenset({RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.CANCELLED}),
)

# Evidence counts only from a research job that succeeded (the one spelling: research.models.Status).
SUCCEEDED = Status.SUCCEEDED
# Hex digits of a config sha shown to people (the full sha is stored and compared).
SHORT_SHA = 12


def config_sha256(config: Mapping[str, Any]) -> str:
    """The sha256 of a config snapshot as canonical JSON (sorted keys, no whitespace, NaN refused).

    Nothing is left out. Training and a backtest of the same model both snapshot
    `strategy_config_validate(strategy.config).to_dict()`, so no field legitimately differs
    between them; in particular not the ones it is tempting to exempt:
    - `research` (the window): the backtest and the training both build their panel from it, so
      a different window is a different experiment, and exempting it would allow shopping for
      the window with the best numbers;
    - `seed`: it changes the learned models' numbers, so exempting it would allow seed shopping;
    - `gates`: it does not change the numbers, but thresholds are read from the strategy's
      current config (which may only tighten the desk bar), not from this snapshot, so the cost
      of keeping it in is one re-run after editing it, and the rule stays "same config, byte for
      byte" with no judgement calls a reviewer has to re-check.
    Snapshots are validated dicts (numbers already coerced), so equal configs hash equally.
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"config snapshot must be a JSON object, got {type(config).__name__}")
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def short_sha(sha: str) -> str | None:
    return sha[:SHORT_SHA] if sha else None


class Evidence(Protocol):
    kind: str
    pk: Any
    status: str
    metrics: dict
    config_sha: str  # config_sha256 of the run's config snapshot; "" when the run has none


@dataclass(frozen=True)
class VersionFacts:
    """What the gates need to know about the version itself: the stages it has entered (from the
    log) and the sha of the config it was trained (or parameterised) with."""

    stages_entered: frozenset[str]
    config_sha: str


class TransitionNotAllowed(ValueError):
    pass


def allowed_targets(from_stage: str) -> list[str]:
    return [STAGE_MACHINE.next_state(from_stage, e) for e in STAGE_MACHINE.events_from(from_stage)]


def stage_event(from_stage: str, to_stage: str) -> str:
    """The event (= request kind) that moves a version from `from_stage` to `to_stage`."""
    for event in STAGE_MACHINE.events_from(from_stage):
        if STAGE_MACHINE.next_state(from_stage, event) == to_stage:
            return event
    allowed = ", ".join(allowed_targets(from_stage)) or "nothing"
    raise TransitionNotAllowed(f"no transition {from_stage} -> {to_stage}; from {from_stage}: {allowed}")


@dataclass(frozen=True)
class Check:
    item: str  # which evidence item ("backtest #12") or "" for a property of the version
    name: str
    value: Any
    op: str
    threshold: Any
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "name": self.name,
            "value": self.value,
            "op": self.op,
            "threshold": self.threshold,
            "passed": self.passed,
        }


@dataclass(frozen=True)
class GateResult:
    gate: str
    passed: bool
    detail: str
    checks: tuple[Check, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "passed": self.passed,
            "detail": self.detail,
            "checks": [c.to_dict() for c in self.checks],
        }


def _num(metrics: dict, key: str) -> float | None:
    v = metrics.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def _compare(item: str, name: str, value: float | None, op: str, threshold: float) -> Check:
    ok = value is not None and (value >= threshold if op == ">=" else value <= threshold)
    return Check(item=item, name=name, value=value, op=op, threshold=threshold, passed=ok)


def _label(e: Evidence) -> str:
    return f"{e.kind} #{e.pk}"


def _gate_backtest_oos(evidence: Sequence[Evidence], t: dict, version: VersionFacts) -> GateResult:
    """Every attached backtest must be a finished out-of-sample run of the version's own config
    meeting Sharpe, drawdown and trade-count thresholds, and there must be at least one: a failing
    run cannot be promoted, a passing run cannot carry a failing one along, and a run of another
    config (even of the same strategy, before an edit) is not evidence for this version."""
    runs = [e for e in evidence if e.kind == "backtest"]
    if not runs:
        return GateResult("backtest_oos", False, "no backtest attached as evidence")
    checks: list[Check] = []
    for e in runs:
        m = e.metrics or {}
        label = _label(e)
        checks.append(Check(label, "status", e.status, "==", SUCCEEDED, e.status == SUCCEEDED))
        same_config = bool(e.config_sha) and e.config_sha == version.config_sha
        checks.append(
            Check(
                label,
                "config matches version",
                short_sha(e.config_sha),
                "==",
                short_sha(version.config_sha),
                same_config,
            )
        )
        if t.get("require_oos", True):
            checks.append(Check(label, "oos", m.get("oos"), "==", True, m.get("oos") is True))
        else:  # waived by the desk (settings.STRATEGY_GATES): shown, never silently dropped
            checks.append(Check(label, "oos", m.get("oos"), "waived", "by the desk", True))
        checks.append(_compare(label, "sharpe", _num(m, "sharpe"), ">=", t["min_sharpe"]))
        checks.append(_compare(label, "max_drawdown", _num(m, "max_drawdown"), "<=", t["max_drawdown"]))
        checks.append(_compare(label, "n_trades", _num(m, "n_trades"), ">=", t["min_trades"]))
    failed = [c for c in checks if not c.passed]
    detail = (
        f"{len(runs)} out-of-sample backtest(s) meet the thresholds"
        if not failed
        else "failing: " + ", ".join(f"{c.item} {c.name}" for c in failed)
    )
    return GateResult("backtest_oos", not failed, detail, tuple(checks))


def _gate_was_candidate(evidence: Sequence[Evidence], t: dict, version: VersionFacts) -> GateResult:
    ok = CANDIDATE in version.stages_entered
    check = Check("", "entered candidate", ok, "==", True, ok)
    detail = "approved as candidate" if ok else "the version was never approved as candidate"
    return GateResult("was_candidate", ok, detail, (check,))


def _gate_paper_tracking(evidence: Sequence[Evidence], t: dict, version: VersionFacts) -> GateResult:
    """Enough days of paper trading whose returns track the backtest (apps.live's PaperEvidence:
    the paper cycles' realised returns against the backtest's over the same bars)."""
    runs = [e for e in evidence if e.kind == "paper"]
    if not runs:
        return GateResult(
            "paper_tracking", False, "no paper-trading record attached (paper_days, tracking_error)"
        )
    checks: list[Check] = []
    for e in runs:
        m = e.metrics or {}
        label = _label(e)
        checks.append(Check(label, "status", e.status, "==", SUCCEEDED, e.status == SUCCEEDED))
        checks.append(_compare(label, "paper_days", _num(m, "paper_days"), ">=", t["min_paper_days"]))
        checks.append(
            _compare(label, "tracking_error", _num(m, "tracking_error"), "<=", t["max_tracking_error"])
        )
    failed = [c for c in checks if not c.passed]
    detail = (
        "paper trading tracks the backtest"
        if not failed
        else "failing: " + ", ".join(f"{c.item} {c.name}" for c in failed)
    )
    return GateResult("paper_tracking", not failed, detail, tuple(checks))


def _gate_previously_live(evidence: Sequence[Evidence], t: dict, version: VersionFacts) -> GateResult:
    ok = LIVE in version.stages_entered
    check = Check("", "was live before", ok, "==", True, ok)
    detail = (
        "rollback to a version that was live" if ok else "only a version that was live before can go back"
    )
    return GateResult("previously_live", ok, detail, (check,))


def _gate_none(evidence: Sequence[Evidence], t: dict, version: VersionFacts) -> GateResult:
    return GateResult("none", True, "no gate: a second person's approval is enough")


GATES = {
    "backtest_oos": _gate_backtest_oos,
    "was_candidate": _gate_was_candidate,
    "paper_tracking": _gate_paper_tracking,
    "previously_live": _gate_previously_live,
    "none": _gate_none,
}


def gates_evaluate(
    *,
    from_stage: str,
    to_stage: str,
    evidence: Sequence[Evidence],
    thresholds: dict[str, float],
    stages_entered: set[str],
    config_sha: str,
) -> list[GateResult]:
    """The gate results for one transition; raises TransitionNotAllowed if it is not in the table.
    `config_sha` is the version's `config_sha256`, which evidence runs must match."""
    _to, gate = LIFECYCLE[(from_stage, stage_event(from_stage, to_stage))]
    version = VersionFacts(stages_entered=frozenset(stages_entered), config_sha=config_sha)
    return [GATES[gate](evidence, thresholds, version)]
