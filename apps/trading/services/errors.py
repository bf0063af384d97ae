"""What the trading services raise besides PermissionDenied, TransitionError and ValueError."""

from __future__ import annotations


class KillSwitchTrip(Exception):  # noqa: N818 - an outcome the caller must act on, not a fault
    """A control (rejection streak, intraday loss) says the account must stop. Raised by
    `orders_create` / `order_create` AFTER the batch and its `ControlTrip` row committed; the kill
    switch (next session) catches it and stops the account. `trip` is the recorded row, `order`
    the refused order that tripped it, `orders` every order of the batch (as returned otherwise)."""

    def __init__(self, trip, order, *, orders=()) -> None:
        super().__init__(f"kill switch trip for account {trip.account_id}: {trip.reason_code}: {trip.detail}")
        self.trip = trip
        self.order = order
        self.orders = list(orders)


class VersionNotTradable(ValueError):
    """A model version linked to (or trading on) an account whose endpoint its stage does not allow."""


class UnknownOrder(LookupError):
    """A broker report for a client order id we never created (an external order: reconciliation
    adopts or flags it; the order services never invent a row for it)."""
