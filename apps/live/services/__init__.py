"""Kill switch writes (permission first, keyword-only): used by pages, the REST API and
`manage.py killswitch`; reconciliation with the broker (reconcile.py), which halts on a break."""

from .cancel import CancelSummary, killswitch_cancel, open_orders_cancel
from .flat import killswitch_flat
from .reconcile import BrokerUnavailable, account_reconcile, accounts_reconcile, broker_alert_key
from .switch import (
    LostRace,
    killswitch_halt,
    killswitch_stop,
    killswitch_trip,
    killswitch_unlock,
    pending_unlock,
    reconcile_alert_key,
    switch_apply,
    switch_for,
)

__all__ = [
    "BrokerUnavailable",
    "CancelSummary",
    "LostRace",
    "account_reconcile",
    "accounts_reconcile",
    "broker_alert_key",
    "killswitch_cancel",
    "killswitch_flat",
    "killswitch_halt",
    "killswitch_stop",
    "killswitch_trip",
    "killswitch_unlock",
    "open_orders_cancel",
    "pending_unlock",
    "reconcile_alert_key",
    "switch_apply",
    "switch_for",
]
