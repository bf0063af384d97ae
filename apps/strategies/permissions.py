"""Who may do what with a strategy. Django's ModelBackend answers only global (role) permissions
and guardian only per-object ones, so every object check here asks both: a role-wide grant
(viewers read every strategy, admins change every strategy) or a grant on this very strategy
(owner, or someone it was shared with)."""

from __future__ import annotations

from .models import Strategy

VIEW = "strategies.view_strategy"
CHANGE = "strategies.change_strategy"
ADD = "strategies.add_strategy"
REQUEST = "strategies.add_promotionrequest"
DECIDE = "strategies.decide_promotion"


def _has(user, perm: str, obj: Strategy | None = None) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.has_perm(perm) or (obj is not None and user.has_perm(perm, obj))


def can_view(user, strategy: Strategy) -> bool:
    return _has(user, VIEW, strategy) or _has(user, CHANGE, strategy)


def can_edit(user, strategy: Strategy) -> bool:
    return _has(user, CHANGE, strategy)


def can_create(user) -> bool:
    return _has(user, ADD)


def can_request_promotion(user, strategy: Strategy) -> bool:
    """Those who work on the strategy ask for promotions; approvers decide them."""
    return _has(user, REQUEST) and can_edit(user, strategy)


def can_decide(user) -> bool:
    return _has(user, DECIDE)
