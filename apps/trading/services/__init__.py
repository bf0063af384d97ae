"""Writes of the trading desk (permission first, keyword-only arguments)."""

from .accounts import account_version_link, trading_account_create, version_tradable_on
from .create import OrderDecision, order_create, orders_create
from .errors import KillSwitchTrip, UnknownOrder, VersionNotTradable
from .fills import fill_record, shortfall_bps
from .limits import risk_limits_update
from .orders import order_report_apply, order_resolve_in_flight, order_submit, orders_submit
from .rate import message_take
from .transitions import order_note, order_transition

__all__ = [
    "KillSwitchTrip",
    "OrderDecision",
    "UnknownOrder",
    "VersionNotTradable",
    "account_version_link",
    "fill_record",
    "message_take",
    "order_create",
    "order_note",
    "order_report_apply",
    "order_resolve_in_flight",
    "order_submit",
    "order_transition",
    "orders_create",
    "orders_submit",
    "risk_limits_update",
    "shortfall_bps",
    "trading_account_create",
    "version_tradable_on",
]
