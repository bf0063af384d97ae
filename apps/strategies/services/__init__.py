"""Writes of the strategies app (see the modules for why each works as it does), with the errors
they raise and the evidence reads they use, for callers that want one import."""

from ..errors import EvidenceChanged, GateFailed, LifecycleError, SelfApprovalError, StrategyError
from ..evidence import EvidenceItem, evidence_candidates, evidence_resolve, gate_thresholds, gates_check
from .promotions import (
    promotion_request_approve,
    promotion_request_cancel,
    promotion_request_create,
    promotion_request_reject,
    rollback_request_create,
)
from .strategies import strategy_create, strategy_share, strategy_update
from .versions import code_version, model_version_create, rule_version_record

__all__ = [
    "EvidenceChanged",
    "EvidenceItem",
    "GateFailed",
    "LifecycleError",
    "SelfApprovalError",
    "StrategyError",
    "code_version",
    "evidence_candidates",
    "evidence_resolve",
    "gate_thresholds",
    "gates_check",
    "model_version_create",
    "promotion_request_approve",
    "promotion_request_cancel",
    "promotion_request_create",
    "promotion_request_reject",
    "rollback_request_create",
    "rule_version_record",
    "strategy_create",
    "strategy_share",
    "strategy_update",
]
