"""The end of a cycle: the account's PnL at the bar's closes, what the cycle's orders became, the
implementation shortfall of the fills recorded during the cycle, and, for paper accounts, the
tracking record: the account's realised return over the bar that just ended next to the
backtest's return over the same bar.

"The backtest" of a tracking point is the engine's simulator run over the cycle's own panel with
the target weights the account's cycles decided (rows without a cycle hold), starting with the
account's starting cash at its first cycle: the same decisions, the backtest's fills (next open,
cost model, participation cap). The difference between the two returns is execution alone
(protective limits, rejections, partial fills, a STOP, rounding), which is what the paper -> live
gate's tracking error is meant to measure.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
from django.db.models import Count, F, Sum

from apps.live.models import CycleRun, PaperTrackingPoint
from apps.marketdata.selectors.panel import PanelBuild
from apps.trading.controls import WHOLE_SHARES
from apps.trading.models import Endpoint, Fill, Order
from apps.trading.selectors import account_pnl, refusals_by_cycle
from workers.engine.backtest import run_backtest
from workers.engine.decide.configs import backtest_config

from .data import bar_positions, last_closes, panel_stamp
from .machine import CycleStatus


def previous_cycle(*, run: CycleRun) -> CycleRun | None:
    """The account's last cycle before this one that decided (its governor state is resumed)."""
    return (
        CycleRun.objects.filter(
            account_id=run.account_id, bar_time__lt=run.bar_time, status=CycleStatus.SUCCEEDED
        )
        .exclude(decision={})
        .order_by("-bar_time")
        .first()
    )


def _shortfall(run: CycleRun) -> dict:
    """Fills recorded during this cycle (the previous orders' fills at this bar's open, and any of
    this cycle's that filled at once): count, notional and notional-weighted shortfall in bps."""
    fills = list(
        Fill.objects.filter(account_id=run.account_id, recorded_at__gte=run.started_at).values_list(
            "qty", "price", "shortfall_decision_bps", "shortfall_arrival_bps"
        )
    )
    out: dict = {"fills": len(fills), "notional": "0"}
    if not fills:
        return out
    notional = sum((q * p for q, p, _d, _a in fills), Decimal(0))
    out["notional"] = str(notional.quantize(Decimal("0.01")))
    for key, k in (("decision_bps", 2), ("arrival_bps", 3)):
        rows = [(f[0] * f[1], f[k]) for f in fills if f[k] is not None]
        weight = sum((w for w, _b in rows), Decimal(0))
        out[key] = float(sum((w * b for w, b in rows), Decimal(0)) / weight) if weight else None
    return out


def _orders(run: CycleRun) -> dict:
    rows = Order.objects.filter(cycle_id=run.pk).values("status").annotate(n=Count("pk"))
    by_status = {r["status"]: r["n"] for r in rows}
    notional = Order.objects.filter(cycle_id=run.pk, submitted_at__isnull=False).aggregate(
        v=Sum(F("qty") * F("limit_price"))
    )["v"]
    return {
        "by_status": by_status,
        "total": sum(by_status.values()),
        "sent_notional": str(Decimal(notional or 0).quantize(Decimal("0.01"))),
        "refusals": refusals_by_cycle(account=run.account, bar_time=run.bar_time),
    }


def _backtest_return(*, run: CycleRun, version, build: PanelBuild, since: pd.Timestamp) -> float:
    """The backtest's return from `since` to this bar, from the account's decided weights."""
    panel = build.panel
    where = bar_positions(panel)
    targets = np.full(panel.shape, np.nan)
    column = {s: i for i, s in enumerate(panel.symbols)}
    decided = CycleRun.objects.filter(
        account_id=run.account_id,
        model_version=version,
        status=CycleStatus.SUCCEEDED,
        bar_time__gte=pd.Timestamp(panel.index[0]).tz_localize("UTC").to_pydatetime(),
        bar_time__lt=run.bar_time,
    ).values_list("bar_time", "decision")
    first = None
    for bar_time, decision in decided:
        t = where.get(panel_stamp(bar_time))
        if t is None or not decision.get("weights"):
            continue
        first = t if first is None else min(first, t)
        row = targets[t]
        row[:] = 0.0
        for symbol, w in decision["weights"].items():
            if symbol in column and w is not None:
                row[column[symbol]] = w
    config = backtest_config(version.config, integer_shares=WHOLE_SHARES)
    result = run_backtest(panel, config, targets=targets)
    equity = result.equity
    t0 = where.get(panel_stamp(since))
    if t0 is None or first is None or t0 < first:
        return 0.0
    return float(equity[-1] / equity[t0] - 1.0)


def cycle_settle(*, run: CycleRun, version, build: PanelBuild, decided: bool) -> dict:
    """The cycle's summary (stored on the run) and, for a paper account, its tracking point."""
    panel = build.panel
    closes = last_closes(panel)
    marks = {s: Decimal(repr(float(c))) for s, c in zip(panel.symbols, closes, strict=True) if np.isfinite(c)}
    pnl = account_pnl(account=run.account, marks=marks)
    summary = {
        "equity": str(pnl.equity.quantize(Decimal("0.01"))),
        "cash": str(pnl.cash.quantize(Decimal("0.01"))),
        "realised_pnl": str(pnl.realised_pnl.quantize(Decimal("0.01"))),
        "unrealised_pnl": str(pnl.unrealised_pnl.quantize(Decimal("0.01"))),
        "positions": len(pnl.positions),
        "unmarked": pnl.unmarked,
        "orders": _orders(run),
        "shortfall": _shortfall(run),
        "decided": decided,
    }
    last_point = (
        PaperTrackingPoint.objects.filter(account_id=run.account_id, model_version=version)
        .order_by("-bar_time")
        .first()
    )
    if run.account.endpoint == Endpoint.PAPER:
        if last_point is None:
            base_equity, since = run.account.starting_cash, None
        else:
            base_equity, since = last_point.equity, pd.Timestamp(last_point.bar_time)
        paper_return = float(pnl.equity / base_equity - 1) if base_equity else 0.0
        backtest_return = (
            0.0 if since is None else _backtest_return(run=run, version=version, build=build, since=since)
        )
        PaperTrackingPoint.objects.get_or_create(
            cycle=run,
            defaults={
                "account_id": run.account_id,
                "model_version": version,
                "bar_time": run.bar_time,
                "equity": pnl.equity.quantize(Decimal("0.000001")),
                "paper_return": paper_return,
                "backtest_return": backtest_return,
            },
        )
        summary["tracking"] = {"paper_return": paper_return, "backtest_return": backtest_return}
    return summary
