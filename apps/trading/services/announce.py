"""The trading services' pushed messages (issue 11): inside the writer's transaction, on the
account's stream (apps.core.realtime.stream_publish, sent after commit), in the cockpit's row
shapes (apps.cockpit.rows).

Events: `order` {"account", "order"} for one order's status change; `orders` {"account",
"orders": [...]} for a batch committed by `orders_create` (one sequence number for the whole
batch: 500 orders cost one UPDATE and one channel-layer send, not 500); `fill` {"account",
"fill", "position"}: the position of the fill's symbol after it, marked at the fill's price (its
`weight` and `target_weight` are null: the account's equity is not read per fill, the next `mark`
carries them)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from apps.cockpit.rows import fill_row, order_row, position_row
from apps.core.realtime import account_stream, stream_publish
from apps.trading.ledger import FillRow, book_from_fills
from apps.trading.models import Fill, Order, TradingAccount
from apps.trading.selectors import PositionRow

ZERO = Decimal(0)


def _account_name(account_id: int) -> str:
    return TradingAccount.objects.values_list("name", flat=True).get(pk=account_id)


def order_announce(*, order: Order, filled_qty: Decimal | None = None) -> int:
    """One order's new state (`filled_qty`: the sum of its fills when the caller knows it)."""
    return stream_publish(
        stream=account_stream(order.account_id),
        event="order",
        payload={
            "account": _account_name(order.account_id),
            "order": order_row(order, filled_qty=filled_qty),
        },
    )


def orders_announce(*, account: TradingAccount, orders: Sequence[Order]) -> int | None:
    """Orders just created (no fills yet) as one message; None when there are none."""
    if not orders:
        return None
    return stream_publish(
        stream=account_stream(account.pk),
        event="orders",
        payload={"account": account.name, "orders": [order_row(o, filled_qty=ZERO) for o in orders]},
    )


def fill_announce(*, order: Order, fill: Fill) -> int:
    """A fill just recorded, with its symbol's position after it."""
    rows = [
        FillRow(f["execution_id"], f["symbol"], f["side"], f["qty"], f["price"], f["fee"], f["at"])
        for f in Fill.objects.filter(account_id=fill.account_id, symbol=fill.symbol).values(
            "execution_id", "symbol", "side", "qty", "price", "fee", "at"
        )
    ]
    held = book_from_fills(rows, starting_cash=ZERO).positions[fill.symbol]
    position = PositionRow(
        symbol=fill.symbol,
        qty=held.qty,
        avg_cost=held.avg_cost,
        mark=fill.price,
        market_value=held.qty * fill.price,
        unrealised_pnl=held.unrealised_pnl(fill.price),
        realised_pnl=held.realised_pnl - held.fees,
    )
    return stream_publish(
        stream=account_stream(fill.account_id),
        event="fill",
        payload={
            "account": _account_name(fill.account_id),
            "fill": fill_row(fill, client_order_id=order.client_order_id),
            # equity 0: weight unknown here (null), see the module's docstring
            "position": position_row(position, equity=ZERO, target_weight=None),
        },
    )
