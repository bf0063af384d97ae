"""The desk's roles and the model permissions each group carries: one literal table, read-only.
`roles_sync` (services) makes the database match it. Apps that add permissions add them here, in
the role's row; nothing patches the table at import time."""

from __future__ import annotations

from types import MappingProxyType

VIEWER = "viewer"
TRADER = "trader"
QUANT = "quant"
RISK_OFFICER = "risk_officer"
APPROVER = "approver"
ADMIN = "admin"
ROLES = (VIEWER, TRADER, QUANT, RISK_OFFICER, APPROVER, ADMIN)

READ_DATA = (
    "marketdata.view_instrument",
    "marketdata.view_bar",
    "marketdata.view_corporateaction",
    "marketdata.view_importrun",
    "universes.view_universe",
    "universes.view_membership",
)
MANAGE_DATA = (
    "marketdata.add_importrun",
    "universes.add_membership",
)
# Reading strategies is role-wide for the desk's overseers (viewers, traders, risk officers,
# approvers read every strategy, read-only); quants get no role-wide view: they see and edit the
# strategies they own or that were shared with them (guardian object permissions).
READ_STRATEGIES = (
    "strategies.view_strategy",
    "strategies.view_modelversion",
    "strategies.view_promotionrequest",
    "strategies.view_lifecycleevent",
)

# Trading (apps.trading): everyone on the desk reads accounts, orders and fills; traders place
# orders; risk officers change an account's pre-trade limits; admins open accounts and link versions.
READ_TRADING = (
    "trading.view_tradingaccount",
    "trading.view_accountmodelversion",
    "trading.view_order",
    "trading.view_fill",
    "trading.view_orderevent",
    "trading.view_risklimits",
    "trading.view_risklimitschange",
    "trading.view_controltrip",
)

# Alerts (apps.alerts): everyone on the desk sees them; traders and risk officers (and admins)
# acknowledge and resolve them. Raising is the desk's own doing (no permission).
READ_ALERTS = ("alerts.view_alert", "alerts.view_alertevent", "alerts.view_alertdelivery")
HANDLE_ALERTS = ("alerts.acknowledge_alert", "alerts.resolve_alert")

# The live desk (apps.live): everyone on the desk reads kill switches, their events and FLAT
# reports, the cycles, reconciliations and paper tracking; traders press STOP, CANCEL and FLAT;
# risk officers those and UNLOCK.
READ_KILLSWITCH = (
    "live.view_killswitch",
    "live.view_killswitchevent",
    "live.view_flatreport",
    "live.view_cyclerun",
    "live.view_cycleevent",
    "live.view_reconciliation",
    "live.view_papertrackingpoint",
    "live.view_paperevidence",
)
PRESS_KILLSWITCH = ("live.stop_killswitch", "live.cancel_killswitch", "live.flat_killswitch")

ROLE_PERMISSIONS = MappingProxyType(
    {
        VIEWER: (*READ_DATA, *READ_STRATEGIES, *READ_TRADING, *READ_ALERTS, *READ_KILLSWITCH),
        TRADER: (
            *READ_DATA,
            *READ_STRATEGIES,
            *READ_TRADING,
            *READ_ALERTS,
            *HANDLE_ALERTS,
            "trading.add_order",
            *READ_KILLSWITCH,
            *PRESS_KILLSWITCH,
        ),
        QUANT: (
            *READ_DATA,
            *MANAGE_DATA,
            *READ_TRADING,
            *READ_ALERTS,
            *READ_KILLSWITCH,
            "strategies.add_strategy",
            "strategies.add_promotionrequest",
            "strategies.view_promotionrequest",
            "strategies.view_lifecycleevent",
        ),
        RISK_OFFICER: (
            *READ_DATA,
            *READ_STRATEGIES,
            *READ_TRADING,
            *READ_ALERTS,
            *HANDLE_ALERTS,
            "trading.change_risklimits",
            *READ_KILLSWITCH,
            *PRESS_KILLSWITCH,
            "live.unlock_killswitch",
        ),
        APPROVER: (
            *READ_DATA,
            *READ_STRATEGIES,
            *READ_TRADING,
            *READ_ALERTS,
            *READ_KILLSWITCH,
            "strategies.decide_promotion",
        ),
        ADMIN: (
            *READ_DATA,
            *MANAGE_DATA,
            *READ_STRATEGIES,
            *READ_TRADING,
            *READ_ALERTS,
            *HANDLE_ALERTS,
            "strategies.add_strategy",
            "strategies.change_strategy",
            "strategies.delete_strategy",
            "strategies.add_promotionrequest",
            "strategies.decide_promotion",
            "trading.add_tradingaccount",
            "trading.add_accountmodelversion",
            "trading.add_order",
            "trading.change_risklimits",
            *READ_KILLSWITCH,
        ),
    }
)
