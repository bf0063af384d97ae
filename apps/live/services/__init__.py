"""Kill switch writes (permission first, keyword-only): used by pages, the REST API and
`manage.py killswitch`."""

from .cancel import CancelSummary, killswitch_cancel, open_orders_cancel
from .flat import killswitch_flat
from .switch import (
    LostRace,
    killswitch_halt,
    killswitch_stop,
    killswitch_trip,
    killswitch_unlock,
    pending_unlock,
    switch_apply,
    switch_for,
)

__all__ = [
    "CancelSummary",
    "LostRace",
    "killswitch_cancel",
    "killswitch_flat",
    "killswitch_halt",
    "killswitch_stop",
    "killswitch_trip",
    "killswitch_unlock",
    "open_orders_cancel",
    "pending_unlock",
    "switch_apply",
    "switch_for",
]
