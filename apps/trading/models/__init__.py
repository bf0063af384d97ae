"""The trading desk's state: accounts and their limits (accounts.py), orders and fills (orders.py).
Positions and cash are not stored: `apps.trading.selectors` derives them from the fills."""

from .accounts import (
    AccountModelVersion,
    BrokerKind,
    Endpoint,
    MessageWindow,
    RiskLimits,
    RiskLimitsChange,
    TradingAccount,
)
from .orders import Fill, KillSwitchTrip, Order, OrderEvent

__all__ = [
    "AccountModelVersion",
    "BrokerKind",
    "Endpoint",
    "Fill",
    "KillSwitchTrip",
    "MessageWindow",
    "Order",
    "OrderEvent",
    "RiskLimits",
    "RiskLimitsChange",
    "TradingAccount",
]
