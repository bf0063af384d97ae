"""The desk's roles and the model permissions each group carries. One table; `roles_sync`
(services) makes the database match it. Later apps add their permissions here."""

from __future__ import annotations

VIEWER = "viewer"
TRADER = "trader"
QUANT = "quant"
RISK_OFFICER = "risk_officer"
APPROVER = "approver"
ADMIN = "admin"
ROLES = (VIEWER, TRADER, QUANT, RISK_OFFICER, APPROVER, ADMIN)

_READ_DATA = [
    "marketdata.view_instrument",
    "marketdata.view_bar",
    "marketdata.view_corporateaction",
    "marketdata.view_importrun",
    "universes.view_universe",
    "universes.view_membership",
]
_MANAGE_DATA = [
    "marketdata.add_importrun",
    "universes.add_membership",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: _READ_DATA,
    TRADER: _READ_DATA,
    QUANT: _READ_DATA + _MANAGE_DATA,
    RISK_OFFICER: _READ_DATA,
    APPROVER: _READ_DATA,
    ADMIN: _READ_DATA + _MANAGE_DATA,
}
