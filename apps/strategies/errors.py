"""Errors the strategy services raise, each with a message fit to show the user."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied


class StrategyError(ValueError):
    """Bad input to a strategy service (not a validation error of the config)."""


class LifecycleError(ValueError):
    """A lifecycle action that cannot happen in the current state."""


class SelfApprovalError(PermissionDenied):
    """Four eyes: the requester of a promotion cannot decide it."""


class GateFailed(LifecycleError):
    """A promotion gate failed; `results` holds every gate result (as dicts)."""

    def __init__(self, message: str, results: list[dict]):
        self.results = results
        super().__init__(message)


class EvidenceChanged(LifecycleError):
    """The stored result of a run cited as evidence differs from what the request captured;
    `changes` lists every difference (item, field, then, now) for the approver."""

    def __init__(self, changes: list[dict]):
        self.changes = changes
        shown = "; ".join(f"{c['item']} {c['field']}: {c['then']} -> {c['now']}" for c in changes)
        super().__init__(f"evidence changed since the request, approval refused: {shown}")
