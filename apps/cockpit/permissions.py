"""Who sees the cockpit and which buttons they get. Every desk role holding
`trading.view_tradingaccount` views every account (read only); the buttons follow the live
permissions (apps.live.permissions). The services check again: this only decides what is shown
and refused early (403)."""

from __future__ import annotations

from apps.live import permissions as live

VIEW = "trading.view_tradingaccount"
BUTTONS = {"stop": live.STOP, "cancel": live.CANCEL, "flat": live.FLAT, "unlock": live.UNLOCK}


def may_view(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.has_perm(VIEW))


def may_press(user, action: str) -> bool:
    return may_view(user) and user.has_perm(BUTTONS[action])


def buttons(user) -> dict[str, bool]:
    return {action: may_press(user, action) for action in BUTTONS}
