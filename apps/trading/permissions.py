"""Who may do what on the trading desk (role permissions, see apps/accounts/roles.py).

`by=None` is the desk itself (the hourly cycle, the broker stream, reconciliation): those entry
points run as no person and are not user-facing; every user-facing entry point passes the user."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

OPEN_ACCOUNT = "trading.add_tradingaccount"
LINK_VERSION = "trading.add_accountmodelversion"
PLACE_ORDER = "trading.add_order"
CHANGE_LIMITS = "trading.change_risklimits"


def require(user, perm: str, what: str, *, system_allowed: bool) -> None:
    """Raise PermissionDenied unless `user` holds `perm` (or is the desk itself, when allowed)."""
    if user is None:
        if system_allowed:
            return
        raise PermissionDenied(f"{what} needs a person with {perm}")
    if not (user.is_authenticated and user.is_active and user.has_perm(perm)):
        raise PermissionDenied(f"{user} may not {what} (needs {perm})")
