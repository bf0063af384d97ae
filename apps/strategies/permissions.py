"""Who may do what with a strategy. Django's ModelBackend answers only global (role) permissions
and guardian only per-object ones, so every object check here asks both: a role-wide grant
(viewers read every strategy, admins change every strategy) or a grant on this very strategy
(owner, or a quant it was shared with).

An object grant of `change_strategy` counts only for a user who holds the quant role: editing is
a quant's job, so a grant that reached anyone else (an old share, a grant made in a shell) gives
no write access. Sharing itself is the owner's (or an admin's) decision, never an editor's."""

from __future__ import annotations

from guardian.conf import settings as guardian_settings

from apps.accounts.roles import QUANT
from apps.accounts.selectors import user_has_role

from .models import Strategy

VIEW = "strategies.view_strategy"
CHANGE = "strategies.change_strategy"
ADD = "strategies.add_strategy"
REQUEST = "strategies.add_promotionrequest"
DECIDE = "strategies.decide_promotion"


def _active(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def _has(user, perm: str, obj: Strategy | None = None) -> bool:
    if not _active(user):
        return False
    return user.has_perm(perm) or (obj is not None and user.has_perm(perm, obj))


def can_view(user, strategy: Strategy) -> bool:
    return _has(user, VIEW, strategy) or _has(user, CHANGE, strategy)


def can_edit(user, strategy: Strategy) -> bool:
    if not _active(user):
        return False
    return user.has_perm(CHANGE) or (is_quant(user) and user.has_perm(CHANGE, strategy))


def can_create(user) -> bool:
    return _has(user, ADD)


def can_share(user, strategy: Strategy) -> bool:
    """The owner (while still a quant) or someone who edits every strategy (admins)."""
    if not _active(user):
        return False
    return user.has_perm(CHANGE) or (user.pk == strategy.owner_id and is_quant(user))


def is_quant(user) -> bool:
    return user_has_role(user, QUANT)


def can_be_editor(user) -> bool:
    """Who may be made an editor of a strategy: an active quant, never guardian's anonymous user."""
    return bool(
        user.is_active and user.get_username() != guardian_settings.ANONYMOUS_USER_NAME and is_quant(user)
    )


def can_request_promotion(user, strategy: Strategy) -> bool:
    """Those who work on the strategy ask for promotions; approvers decide them."""
    return _has(user, REQUEST) and can_edit(user, strategy)


def can_decide(user) -> bool:
    return _has(user, DECIDE)
