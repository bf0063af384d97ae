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
from .orders import ControlTrip, Fill, Order, OrderEvent

__all__ = [
    "AccountModelVersion",
    "BrokerKind",
    "Endpoint",
    "Fill",
    "ControlTrip",
    "MessageWindow",
    "Order",
    "OrderEvent",
    "RiskLimits",
    "RiskLimitsChange",
    "TradingAccount",
]
