"""The order state machine (one literal table, after NautilusTrader's `_ORDER_STATE_TABLE`) and
the deterministic client order id.

States are `apps.trading.brokers.base.OrderStatus`. Events are past-tense facts about the order:

- `deny`: refused by our pre-trade controls before it was sent (reason code on the order);
- `submit`: we are about to send it (committed BEFORE the broker call, so a crash after sending
  leaves an order in flight, resolved by client order id, never a forgotten one);
- `accept`, `reject`, `cancel`, `expire`: the broker's definitive answers;
- `partial_fill`, `fill`: a fill was recorded and the filled quantity is below / at the order's;
- `cancel_request`: we asked to cancel; `cancel_reject`: the broker refused (it stays working).

Real-world edges: a fill after a cancel request, or even after `cancelled` (the execution happened
before the cancel took effect), is recorded; a late fill that completes a cancelled order moves it
to `filled`, a late partial fill keeps it `cancelled` (it will not fill further). A failed cancel
returns to `accepted` (the filled quantity, if any, stays on the row). `pending_cancel` may be
requested again. Anything else raises TransitionError (logged by StateMachine).
"""

from __future__ import annotations

import datetime as dt

from apps.core.statemachine import StateMachine
from apps.marketdata.symbols import symbol_problem
from apps.trading.brokers.base import OrderSide, OrderStatus

S = OrderStatus

ORDER_MACHINE = StateMachine(
    name="order",
    table={
        (S.PENDING_NEW, "deny"): S.REJECTED,
        (S.PENDING_NEW, "submit"): S.SUBMITTED,
        (S.SUBMITTED, "accept"): S.ACCEPTED,
        (S.SUBMITTED, "reject"): S.REJECTED,
        (S.SUBMITTED, "partial_fill"): S.PARTIALLY_FILLED,
        (S.SUBMITTED, "fill"): S.FILLED,
        (S.SUBMITTED, "cancel_request"): S.PENDING_CANCEL,
        (S.SUBMITTED, "cancel"): S.CANCELLED,
        (S.SUBMITTED, "expire"): S.EXPIRED,
        (S.ACCEPTED, "partial_fill"): S.PARTIALLY_FILLED,
        (S.ACCEPTED, "fill"): S.FILLED,
        (S.ACCEPTED, "cancel_request"): S.PENDING_CANCEL,
        (S.ACCEPTED, "cancel"): S.CANCELLED,
        (S.ACCEPTED, "expire"): S.EXPIRED,
        (S.PARTIALLY_FILLED, "partial_fill"): S.PARTIALLY_FILLED,
        (S.PARTIALLY_FILLED, "fill"): S.FILLED,
        (S.PARTIALLY_FILLED, "cancel_request"): S.PENDING_CANCEL,
        (S.PARTIALLY_FILLED, "cancel"): S.CANCELLED,
        (S.PARTIALLY_FILLED, "expire"): S.EXPIRED,
        (S.PENDING_CANCEL, "cancel_request"): S.PENDING_CANCEL,
        (S.PENDING_CANCEL, "cancel_reject"): S.ACCEPTED,
        (S.PENDING_CANCEL, "cancel"): S.CANCELLED,
        (S.PENDING_CANCEL, "partial_fill"): S.PARTIALLY_FILLED,
        (S.PENDING_CANCEL, "fill"): S.FILLED,
        (S.PENDING_CANCEL, "expire"): S.EXPIRED,
        (S.CANCELLED, "partial_fill"): S.CANCELLED,
        (S.CANCELLED, "fill"): S.FILLED,
    },
    terminal=frozenset({S.FILLED, S.REJECTED, S.EXPIRED}),
)

# Orders that may still trade at the broker (count toward working quantity and duplicate checks).
WORKING = frozenset({S.SUBMITTED, S.ACCEPTED, S.PARTIALLY_FILLED, S.PENDING_CANCEL})
# Orders the controls count as open (duplicate-order check): working, or committed and about to be sent.
OPEN = WORKING | {S.PENDING_NEW}
# Orders whose submission outcome may be unknown: sent (or about to be) with no broker answer yet.
IN_FLIGHT = frozenset({S.SUBMITTED})

# The broker's normalised status -> the event that reaches it. Fill statuses are absent on
# purpose: `partially_filled` / `filled` follow from the fills recorded (fill_record), never from a
# status word, so the order's status and its fills cannot disagree.
STATUS_EVENT = {
    S.ACCEPTED: "accept",
    S.REJECTED: "reject",
    S.CANCELLED: "cancel",
    S.EXPIRED: "expire",
    S.PENDING_CANCEL: "cancel_request",
}

# Broker reports that arrive after the order moved past them (streams deliver out of order and
# more than once): an acknowledgement after a fill or a cancel, a cancel request seen after the
# order finished. They change nothing; any other impossible report raises TransitionError.
STALE_REPORTS = frozenset(
    {(state, "accept") for state in (S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.CANCELLED, S.EXPIRED)}
    | {(state, "cancel_request") for state in (S.FILLED, S.CANCELLED, S.EXPIRED, S.REJECTED)}
    | {(S.FILLED, "cancel"), (S.FILLED, "expire")}
)

# Streamed events that say a cancel request failed (Alpaca's `trade_updates` word; the paper
# broker uses the same): the order returns from pending_cancel to accepted.
CANCEL_REJECTED_EVENTS = frozenset({"order_cancel_rejected"})

CLIENT_ORDER_ID_MAX = 48  # Alpaca's limit
_PREFIX = "hg"
_MAX_ACCOUNT_ID = 10**14 - 1  # keeps the id within 48 characters with a 16-character symbol


def client_order_id(*, account_id: int, bar_time: dt.datetime, symbol: str, side: str) -> str:
    """`hg<account id>-<bar time UTC, YYYYmmddHHMM>-<b|s>-<SYMBOL>`, e.g. `hg7-202510011400-b-BRK.B`.

    Deterministic: the same account, cycle bar and instrument side always give the same id, so a
    retried cycle meets the UNIQUE constraint (ours) and the broker's duplicate check (theirs)
    instead of creating a second order. Injective: the account id is digits up to the first "-",
    the stamp is fixed-width, the side one letter, and the symbol the rest (the ticker rule allows
    "-" inside a symbol, which is why it comes last). At most 2 + 14 + 1 + 12 + 1 + 1 + 1 + 16 = 48
    characters. Readable on purpose: an operator can tell from the broker's screen which account,
    hour and name an order belongs to.
    """
    if not 0 < account_id <= _MAX_ACCOUNT_ID:
        raise ValueError(f"account id {account_id} outside 1..{_MAX_ACCOUNT_ID}")
    if bar_time.tzinfo is None:
        raise ValueError("bar_time must be timezone-aware")
    utc = bar_time.astimezone(dt.UTC)
    if utc.second or utc.microsecond:
        raise ValueError(f"bar_time {bar_time.isoformat()} is not on a whole minute")
    problem = symbol_problem(symbol)
    if problem:
        raise ValueError(f"symbol {symbol!r} {problem}")
    side_letter = {OrderSide.BUY: "b", OrderSide.SELL: "s"}[OrderSide(side)]
    cid = f"{_PREFIX}{account_id}-{utc:%Y%m%d%H%M}-{side_letter}-{symbol}"
    assert len(cid) <= CLIENT_ORDER_ID_MAX, cid
    return cid
