"""Promotion requests and stage transitions, with four eyes and an append-only log.

A quant asks (`promotion_request_create`), the gates are evaluated on the evidence and a failing
gate refuses the request; an approver who is not the requester decides. Approval re-reads the
evidence and re-evaluates the gates, then moves the version — and, when it enters live, retires
the previous live version — in one transaction with the strategy's versions locked in pk order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import permissions
from ..errors import EvidenceChanged, GateFailed, LifecycleError, SelfApprovalError
from ..evidence import evidence_changes, evidence_reread, evidence_resolve, gates_check
from ..lifecycle import (
    APPROVE,
    CANCEL,
    LIVE,
    REJECT,
    REQUEST_MACHINE,
    RETIRE,
    RETIRED,
    STAGE_MACHINE,
    TransitionNotAllowed,
    stage_event,
)
from ..models import LifecycleEvent, ModelVersion, PromotionRequest, RequestStatus, Stage, Strategy

Action = LifecycleEvent.Action


def _failed(results: list[dict]) -> list[dict]:
    return [r for r in results if not r["passed"]]


def _log(
    *,
    version: ModelVersion,
    action: str,
    from_stage: str,
    to_stage: str,
    actor,
    reason: str,
    request: PromotionRequest | None = None,
    evidence: Any = None,
) -> LifecycleEvent:
    return LifecycleEvent.objects.create(
        strategy_id=version.strategy_id,
        model_version=version,
        request=request,
        action=action,
        from_stage=from_stage,
        to_stage=to_stage,
        actor=actor,
        reason=reason,
        evidence=evidence or {},
    )


def _require_reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise LifecycleError(f"a reason is required to {what}")
    return reason


def promotion_request_create(
    *,
    model_version: ModelVersion,
    to_stage: str,
    requested_by,
    reason: str,
    evidence_refs: Iterable[tuple[str, int]] = (),
) -> PromotionRequest:
    """Ask for `model_version` to move to `to_stage`, citing runs as evidence. Refused when the
    transition is not in the table, a gate fails, or a request for this version is pending."""
    strategy = model_version.strategy
    if not permissions.can_request_promotion(requested_by, strategy):
        raise PermissionDenied(f"{requested_by} may not request promotions of {strategy.name}")
    reason = _require_reason(reason, "request a promotion")
    if to_stage not in Stage.values:
        raise LifecycleError(f"unknown stage {to_stage!r}; stages: {', '.join(Stage.values)}")
    try:
        kind = stage_event(model_version.stage, to_stage)
    except TransitionNotAllowed as exc:
        raise LifecycleError(str(exc)) from None
    evidence = evidence_resolve(model_version=model_version, refs=evidence_refs)
    results = gates_check(version=model_version, to_stage=to_stage, evidence=evidence)
    if _failed(results):
        raise GateFailed("gate failed: " + _gate_failures(results), results)
    snapshot = [e.snapshot() for e in evidence]
    try:
        with transaction.atomic():
            req = PromotionRequest.objects.create(
                model_version=model_version,
                kind=kind,
                from_stage=model_version.stage,
                to_stage=to_stage,
                requested_by=requested_by,
                reason=reason,
                evidence=snapshot,
                gate_results=results,
            )
            _log(
                version=model_version,
                action=Action.REQUESTED,
                from_stage=req.from_stage,
                to_stage=to_stage,
                actor=requested_by,
                reason=reason,
                request=req,
                evidence={"evidence": snapshot, "gates": results},
            )
    except IntegrityError:
        raise LifecycleError(f"{model_version} already has a pending request") from None
    return req


def rollback_request_create(*, strategy: Strategy, requested_by, reason: str) -> PromotionRequest:
    """Ask to put back the version that was live before the current one (one approval moves it
    to live and retires the current live version). Permission first: a role that may not ask
    is refused whatever the strategy's history."""
    if not permissions.can_request_promotion(requested_by, strategy):
        raise PermissionDenied(f"{requested_by} may not request a rollback of {strategy.name}")
    previous = (
        LifecycleEvent.objects.filter(
            strategy=strategy,
            action=Action.TRANSITION,
            to_stage=LIVE,
            model_version__stage=RETIRED,
        )
        .select_related("model_version")
        .order_by("-at", "-pk")
        .first()
    )
    if previous is None:
        raise LifecycleError(f"{strategy.name} has no retired version that was live before")
    return promotion_request_create(
        model_version=previous.model_version, to_stage=LIVE, requested_by=requested_by, reason=reason
    )


def _decision_checks(request: PromotionRequest, by, reason: str, what: str) -> str:
    if not permissions.can_decide(by):
        raise PermissionDenied(f"{by} may not {what} promotion requests")
    if by.pk == request.requested_by_id:
        raise SelfApprovalError(f"four eyes: {by} requested #{request.pk} and cannot {what} it")
    if request.status != RequestStatus.PENDING:
        raise LifecycleError(f"request #{request.pk} is already {request.status}")
    return _require_reason(reason, f"{what} a request")


def _move(*, version: ModelVersion, event: str, actor, reason: str, request, evidence=None) -> None:
    """Apply `event` to the version's stage through the lifecycle table (conditional update + a
    transition row in the log, in one transaction)."""

    def record(from_stage: str, to_stage: str) -> None:
        _log(
            version=version,
            action=Action.TRANSITION,
            from_stage=from_stage,
            to_stage=to_stage,
            actor=actor,
            reason=reason,
            request=request,
            evidence=evidence,
        )

    if not STAGE_MACHINE.allows(version.stage, event):
        raise LifecycleError(f"{version} cannot take {event!r} from {version.stage}")
    if not STAGE_MACHINE.apply(version, event, record=record):
        raise LifecycleError(f"{version} changed stage meanwhile; reject and re-request")


def _decide(*, request: PromotionRequest, event: str, by, reason: str, action: str, evidence=None) -> None:
    """Apply `event` to the request through its table, with the decision fields and the log row."""

    def record(_from: str, _to: str) -> None:
        _log(
            version=request.model_version,
            action=action,
            from_stage=request.from_stage,
            to_stage=request.to_stage,
            actor=by,
            reason=reason,
            request=request,
            evidence=evidence,
        )

    decided_by = None if event == CANCEL else by
    if not REQUEST_MACHINE.apply(
        request,
        event,
        record=record,
        decided_by=decided_by,
        decided_at=timezone.now(),
        decision_reason=reason,
    ):
        raise LifecycleError(f"request #{request.pk} was decided meanwhile")


def _gate_failures(results: list[dict]) -> str:
    return "; ".join(f"{r['gate']}: {r['detail']}" for r in _failed(results))


def promotion_request_approve(*, request: PromotionRequest, by, reason: str) -> PromotionRequest:
    """Approve and carry out a request. Raises (changing nothing) if the requester is deciding,
    the request is no longer pending, the version moved since, the evidence's stored results
    differ from what was captured at request time (EvidenceChanged, with every difference), or a
    gate now fails."""
    reason = _decision_checks(request, by, reason, "approve")
    with transaction.atomic():
        # Lock every version of the strategy in pk order (the same order in every approval, so
        # two approvals never deadlock), then the request; re-read both under the lock.
        versions = {
            v.pk: v
            for v in ModelVersion.objects.select_for_update()
            .filter(strategy_id=request.model_version.strategy_id)
            .order_by("pk")
        }
        request = (
            PromotionRequest.objects.select_for_update().select_related("model_version").get(pk=request.pk)
        )
        reason = _decision_checks(request, by, reason, "approve")
        version = versions[request.model_version_id]
        if version.stage != request.from_stage:
            raise LifecycleError(
                f"{version} is {version.stage} now, not {request.from_stage} as when requested; reject and re-request"
            )
        evidence = evidence_reread(model_version=version, snapshot=request.evidence)
        changes = evidence_changes(snapshot=request.evidence, now=evidence)
        if changes:
            raise EvidenceChanged(changes)
        results = gates_check(version=version, to_stage=request.to_stage, evidence=evidence)
        if _failed(results):
            raise GateFailed("gate fails at approval: " + _gate_failures(results), results)
        recheck = {"evidence": [e.snapshot() for e in evidence], "gates": results}
        if request.to_stage == LIVE:
            for other in versions.values():
                if other.pk != version.pk and other.stage == LIVE:
                    _move(
                        version=other,
                        event=RETIRE,
                        actor=by,
                        reason=f"superseded by v{version.version} (request #{request.pk})",
                        request=request,
                    )
        _move(version=version, event=request.kind, actor=by, reason=reason, request=request, evidence=recheck)
        request.model_version = version
        _decide(
            request=request, event=APPROVE, by=by, reason=reason, action=Action.APPROVED, evidence=recheck
        )
    return request


def _close(*, request: PromotionRequest, by, reason: str, event: str, action: str) -> PromotionRequest:
    with transaction.atomic():
        request = (
            PromotionRequest.objects.select_for_update().select_related("model_version").get(pk=request.pk)
        )
        if request.status != RequestStatus.PENDING:
            raise LifecycleError(f"request #{request.pk} is already {request.status}")
        _decide(request=request, event=event, by=by, reason=reason, action=action)
    return request


def promotion_request_reject(*, request: PromotionRequest, by, reason: str) -> PromotionRequest:
    reason = _decision_checks(request, by, reason, "reject")
    return _close(request=request, by=by, reason=reason, event=REJECT, action=Action.REJECTED)


def promotion_request_cancel(*, request: PromotionRequest, by, reason: str = "") -> PromotionRequest:
    """The requester withdraws their own pending request."""
    if by.pk != request.requested_by_id:
        raise PermissionDenied(f"only the requester can cancel request #{request.pk}")
    reason = (reason or "").strip() or "withdrawn by the requester"
    return _close(request=request, by=by, reason=reason, event=CANCEL, action=Action.CANCELLED)
