"""Shared by the venue's services: the account lock, event rows, Decimal rounding."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from ..models import VenueAccount, VenueOrder, VenueOrderEvent

MICRO = Decimal("0.000001")  # the database's 6 decimal places for quantities, prices and cash


def locked_account(account: VenueAccount) -> VenueAccount:
    """Re-read and lock the account row until the end of the caller's transaction."""
    return VenueAccount.objects.select_for_update().get(pk=account.pk)


def micro(value: Decimal | float, rounding: str = ROUND_HALF_UP) -> Decimal:
    return Decimal(str(value)).quantize(MICRO, rounding=rounding)


def micro_down(value: Decimal | float) -> Decimal:
    return micro(value, ROUND_DOWN)


def event_recorder(order: VenueOrder, event: str, *, at: dt.datetime, **detail):
    """The `record` callback of StateMachine.apply: one append-only event row."""

    def record(from_status: str, to_status: str) -> None:
        VenueOrderEvent.objects.create(
            order=order, event=event, from_status=from_status, to_status=to_status, at=at, detail=detail
        )

    return record
