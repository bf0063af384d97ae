"""Writes of the simulated venue. Called by the PaperBroker adapter (apps.trading.brokers.paper)
and by the live cycle (`paper_venue_advance`), never by pages: the desk's own services check the
user's permission before they reach any broker, and the venue, like a real one, checks only
what a venue checks (symbol, price, funds, quantity, duplicate client order id).

Every write locks the venue account row first (`select_for_update`), so submissions, cancels and
fills of one account are serialised on PostgreSQL and two workers cannot fill one bar twice."""

from .accounts import venue_account_create
from .advance import AdvanceResult, paper_venue_advance
from .orders import paper_order_cancel, paper_order_submit, paper_orders_cancel_all, paper_orders_submit

__all__ = [
    "AdvanceResult",
    "paper_order_cancel",
    "paper_order_submit",
    "paper_orders_cancel_all",
    "paper_orders_submit",
    "paper_venue_advance",
    "venue_account_create",
]
