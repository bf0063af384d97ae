"""Submit and cancel at the venue. A refused submission raises the broker interface's
`OrderRejected` (with an Alpaca-like code and HTTP status) and stores nothing, as Alpaca answers a
403 / 422 without creating an order; a duplicate client order id raises DuplicateClientOrderId."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.trading.brokers.base import (
    BrokerError,
    CancelRejected,
    CancelResult,
    DuplicateClientOrderId,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    OrderSide,
    OrderType,
    TimeInForce,
)
from workers.engine.calendar import next_session_close

from ..models import CLIENT_ORDER_ID_MAX_LEN, VenueAccount, VenueOrder, VenueOrderEvent
from ..orders import OPEN, VENUE_ORDER, VenueEvent, VenueStatus
from ..selectors import venue_last_closes, venue_reserved_cash, venue_sellable
from .common import event_recorder, locked_account, micro

SUPPORTED_TIFS = (TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK)


class Reject:
    """Reject codes of the venue (stored by the desk as the order's reason)."""

    INVALID = "invalid_order"
    UNKNOWN_SYMBOL = "unknown_symbol"
    NO_PRICE = "no_price"
    BUYING_POWER = "insufficient_buying_power"
    QTY = "insufficient_qty"


def _invalid(message: str) -> OrderRejected:
    return OrderRejected(message, code=Reject.INVALID, http_status=422)


def _check_request(request: OrderRequest) -> None:
    cid = request.client_order_id
    if not cid or len(cid) > CLIENT_ORDER_ID_MAX_LEN:
        raise _invalid(f"client_order_id must be 1-{CLIENT_ORDER_ID_MAX_LEN} characters, got {cid!r}")
    qty = Decimal(request.qty)
    if not qty.is_finite() or qty <= 0 or qty != micro(qty):
        raise _invalid(f"qty must be a positive number with at most 6 decimals, got {request.qty}")
    if request.time_in_force not in SUPPORTED_TIFS:
        raise _invalid(
            f"time_in_force {request.time_in_force} is not supported by the paper venue "
            f"({', '.join(SUPPORTED_TIFS)})"
        )
    limit = request.limit_price
    if request.type == OrderType.LIMIT:
        if limit is None or not Decimal(limit).is_finite() or limit <= 0 or limit != micro(limit):
            raise _invalid(f"a limit order needs a positive limit_price (6 decimals at most), got {limit}")
    elif limit is not None:
        raise _invalid("a market order takes no limit_price")


def paper_order_submit(*, venue_account: VenueAccount, request: OrderRequest, now: dt.datetime) -> VenueOrder:
    """Accept `request` at `now` (the venue's clock) or raise OrderRejected / DuplicateClientOrderId.

    Refused: malformed orders (422 invalid_order), symbols without an instrument (422
    unknown_symbol), symbols without a bar known at `now` (422 no_price), buys whose notional at
    the reserve price (limit, or last close) exceeds cash minus the open orders' net reservation
    (open buys less open sells, selectors.venue_reserved_cash: 403 insufficient_buying_power), sells beyond the position minus open sells (403 insufficient_qty).
    A day order expires at the close of the first session closing after `now`."""
    (outcome,) = paper_orders_submit(venue_account=venue_account, requests=[request], now=now)
    if isinstance(outcome, BrokerError):
        raise outcome
    return outcome


def paper_orders_submit(
    *, venue_account: VenueAccount, requests: Sequence[OrderRequest], now: dt.datetime
) -> list[VenueOrder | OrderRejected | DuplicateClientOrderId]:
    """Each request accepted (its VenueOrder) or refused (the error `paper_order_submit` raises),
    in order, in ONE transaction under the account lock: each request sees the reservations of
    those accepted before it, exactly as if they were submitted one after another (a cycle's sells
    first, whose proceeds fund its buys). Two queries for the batch's prices and duplicates, one
    per sold symbol, and one INSERT of the orders and one of their events."""
    outcomes: list[VenueOrder | OrderRejected | DuplicateClientOrderId] = []
    with transaction.atomic():
        account = locked_account(venue_account)
        ids = [r.client_order_id for r in requests]
        # No savepoint for a duplicate: the account lock (PostgreSQL) or SQLite's IMMEDIATE
        # write transaction serialises submissions, so this check cannot be raced.
        taken = set(
            VenueOrder.objects.filter(account=account, client_order_id__in=ids).values_list(
                "client_order_id", flat=True
            )
        )
        symbols = sorted({r.symbol.strip().upper() for r in requests})
        closes = venue_last_closes(symbols=symbols, frequency=account.frequency, at=now)
        power = account.cash - venue_reserved_cash(venue_account=account)
        sellable: dict[str, Decimal] = {}
        accepted: list[VenueOrder] = []
        for request in requests:
            try:
                order = _accepted(
                    account, request, now, taken=taken, closes=closes, power=power, sellable=sellable
                )
            except (OrderRejected, DuplicateClientOrderId) as exc:
                outcomes.append(exc)
                continue
            taken.add(order.client_order_id)
            # The open orders' net reservation grows by a buy's notional, shrinks by a sell's.
            notional = order.qty * order.reserve_price
            power += -notional if order.side == OrderSide.BUY else notional
            outcomes.append(order)
            accepted.append(order)
        VenueOrder.objects.bulk_create(accepted)
        VenueOrderEvent.objects.bulk_create(
            VenueOrderEvent(order=o, event="submit", from_status="", to_status=o.status, at=now, detail={})
            for o in accepted
        )
    return outcomes


def _accepted(
    account: VenueAccount,
    request: OrderRequest,
    now: dt.datetime,
    *,
    taken: set[str],
    closes: dict[str, Decimal | None],
    power: Decimal,
    sellable: dict[str, Decimal],
) -> VenueOrder:
    """The (unsaved) order `request` makes, or the refusal raised; a sell takes its quantity from
    `sellable` (filled in per symbol from the database)."""
    _check_request(request)
    symbol = request.symbol.strip().upper()
    qty = Decimal(request.qty)
    if request.client_order_id in taken:
        raise DuplicateClientOrderId(f"client_order_id {request.client_order_id!r} already exists")
    if symbol not in closes:
        raise OrderRejected(f"unknown symbol {symbol!r}", code=Reject.UNKNOWN_SYMBOL, http_status=422)
    close = closes[symbol]
    if close is None:
        raise OrderRejected(
            f"no {account.frequency} price known for {symbol} at {now.isoformat()}",
            code=Reject.NO_PRICE,
            http_status=422,
        )
    reserve = request.limit_price if request.type == OrderType.LIMIT else close
    if request.side == OrderSide.BUY:
        if qty * reserve > power:
            raise OrderRejected(
                f"insufficient buying power: {qty} {symbol} x {reserve} = {qty * reserve:.2f} > {power:.2f}",
                code=Reject.BUYING_POWER,
                http_status=403,
            )
    else:
        if symbol not in sellable:
            sellable[symbol] = venue_sellable(venue_account=account, symbol=symbol)
        if qty > sellable[symbol]:
            raise OrderRejected(
                f"insufficient qty available for order: sell {qty} {symbol}, {sellable[symbol]} available",
                code=Reject.QTY,
                http_status=403,
            )
        sellable[symbol] -= qty
    expires = next_session_close(now).to_pydatetime() if request.time_in_force == TimeInForce.DAY else None
    return VenueOrder(
        account=account,
        client_order_id=request.client_order_id,
        symbol=symbol,
        side=request.side,
        qty=qty,
        type=request.type,
        time_in_force=request.time_in_force,
        limit_price=request.limit_price,
        reserve_price=reserve,
        status=VenueStatus.ACCEPTED,
        submitted_at=now,
        updated_at=now,
        expires_at=expires,
    )


def _order(account: VenueAccount, venue_order_id: str) -> VenueOrder:
    try:
        return VenueOrder.objects.get(account=account, venue_order_id=venue_order_id)
    except (VenueOrder.DoesNotExist, ValidationError, ValueError) as exc:  # ValidationError: not a UUID
        raise OrderNotFound(f"no order {venue_order_id!r} at this venue account") from exc


def paper_order_cancel(*, venue_account: VenueAccount, venue_order_id: str, now: dt.datetime) -> VenueOrder:
    """Cancel one open order (immediately: the venue has no cancel in flight). OrderNotFound for
    an unknown id; CancelRejected (Alpaca's 422 not cancelable) when it is already filled,
    cancelled or expired: nothing changed, and the order itself was never rejected."""
    with transaction.atomic():
        account = locked_account(venue_account)
        order = _order(account, venue_order_id)
        if not VENUE_ORDER.allows(order.status, VenueEvent.CANCEL):
            raise CancelRejected(f"order {venue_order_id} is not cancelable: {order.status}")
        VENUE_ORDER.apply(
            order, VenueEvent.CANCEL, record=event_recorder(order, VenueEvent.CANCEL, at=now), updated_at=now
        )
    return order


def paper_orders_cancel_all(*, venue_account: VenueAccount, now: dt.datetime) -> list[CancelResult]:
    """Cancel every open order of the account at once: one locking read of the open orders, one
    UPDATE per target state of the table (all open states go to cancelled: one), one INSERT of
    the event rows. The account lock keeps the set read and the set updated the same."""
    with transaction.atomic():
        account = locked_account(venue_account)
        rows = list(
            VenueOrder.objects.filter(account=account, status__in=OPEN)
            .order_by("pk")
            .values_list("pk", "venue_order_id", "status")
        )
        by_target: dict[str, list[int]] = {}
        for pk, _vid, status in rows:
            by_target.setdefault(VENUE_ORDER.next_state(status, VenueEvent.CANCEL), []).append(pk)
        for target, pks in by_target.items():
            # Conditional: the rows read, still in an open state (guaranteed by the lock; checked).
            written = VenueOrder.objects.filter(pk__in=pks, status__in=OPEN).update(
                status=target, updated_at=now
            )
            if written != len(pks):
                raise RuntimeError(f"{len(pks) - written} venue order(s) changed under the account lock")
        VenueOrderEvent.objects.bulk_create(
            VenueOrderEvent(
                order_id=pk,
                event=VenueEvent.CANCEL,
                from_status=status,
                to_status=VENUE_ORDER.next_state(status, VenueEvent.CANCEL),
                at=now,
                detail={"bulk": True},
            )
            for pk, _vid, status in rows
        )
    return [CancelResult(broker_order_id=str(vid), ok=True) for _pk, vid, _s in rows]
