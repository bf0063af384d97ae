"""Who may do what with alerts (role permissions, see apps/accounts/roles.py). Raising is for the
desk itself (no person); acknowledging and resolving are for people (traders, risk officers)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

VIEW = "alerts.view_alert"
ACKNOWLEDGE = "alerts.acknowledge_alert"
RESOLVE = "alerts.resolve_alert"


def allowed(user, perm: str) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.has_perm(perm))


def require(user, perm: str, what: str) -> None:
    if not allowed(user, perm):
        raise PermissionDenied(f"{user or 'the desk'} may not {what} (needs {perm})")
