"""The cycle's `mark` message (issue 11): after a cycle settles, the account's headline and
positions at the bar's closes, on the account's stream, in the cockpit's shapes
(apps.cockpit.rows). Published inside the cycle's finishing transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from apps.cockpit.rows import headline_block, position_row
from apps.core.realtime import account_stream, stream_publish
from apps.trading.models import TradingAccount
from apps.trading.selectors import account_pnl

ZERO = Decimal(0)


def mark_announce(
    *,
    account: TradingAccount,
    bar_time: dt.datetime,
    marks: Mapping[str, Decimal],
    day_start_equity: Decimal,
    decision: Mapping[str, Any],
) -> int:
    """`decision`: the cycle's stored decision record (target weights, the governor's state and
    equity peak)."""
    pnl = account_pnl(account=account, marks=marks)
    governor = decision.get("governor") or {}
    peak = governor.get("peak")
    targets = decision.get("weights") or {}
    headline = headline_block(
        equity=pnl.equity,
        cash=pnl.cash,
        day_start_equity=day_start_equity,
        starting_cash=account.starting_cash,
        peak_equity=pnl.equity if peak is None else Decimal(repr(float(peak))),
        gross_exposure=sum((abs(p.market_value) for p in pnl.positions), ZERO),
        positions=len(pnl.positions),
        governor_state=governor.get("state"),
        as_of=bar_time,
    )
    return stream_publish(
        stream=account_stream(account.pk),
        event="mark",
        payload={
            "account": account.name,
            "headline": headline,
            "positions": [
                position_row(p, equity=pnl.equity, target_weight=targets.get(p.symbol)) for p in pnl.positions
            ],
        },
    )
