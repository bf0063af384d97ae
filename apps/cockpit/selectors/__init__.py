"""The cockpit's reads: `account_snapshot` (one account, in one transaction with its stream
numbers), `desk_overview`, and the parts the pushed messages reuse (`account_marked`: headline and
positions at the last closes; `health`: the health block)."""

from .book import account_marked
from .health import health
from .snapshot import account_snapshot, desk_overview

__all__ = ["account_marked", "account_snapshot", "desk_overview", "health"]
