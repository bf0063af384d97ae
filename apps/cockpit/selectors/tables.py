"""The account's tables: open orders, recent fills, cycles, reconciliations, open alerts, the
kill switch and the model version it trades. One query each, whatever the number of rows."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import DecimalField, F, Q, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse

from apps.alerts.selectors import alerts_open
from apps.cockpit.rows import (
    alert_row,
    cycle_row,
    fill_row,
    killswitch_block,
    order_row,
    reconciliation_row,
    when,
)
from apps.live.models import CycleRun, KillSwitch, Reconciliation
from apps.trading.models import AccountModelVersion, Fill, Order, TradingAccount
from apps.trading.orders import OPEN

FILLS = 200
CYCLES = 50
RECONCILIATIONS = 20
ALERTS = 100
_QTY = DecimalField(max_digits=18, decimal_places=6)


def open_orders(*, account: TradingAccount) -> list[dict]:
    rows = (
        Order.objects.filter(account=account, status__in=OPEN)
        .annotate(filled=Coalesce(Sum("fills__qty"), Decimal(0), output_field=_QTY))
        .order_by("-bar_time", "symbol", "pk")
    )
    return [order_row(o, filled_qty=o.filled) for o in rows]


def recent_fills(*, account: TradingAccount, limit: int = FILLS) -> list[dict]:
    rows = (
        Fill.objects.filter(account=account)
        .annotate(client_order_id=F("order__client_order_id"))
        .defer("raw")
        .order_by("-at", "-execution_id")[:limit]
    )
    return [fill_row(f, client_order_id=f.client_order_id) for f in rows]


def recent_cycles(*, account: TradingAccount, limit: int = CYCLES) -> list[dict]:
    rows = CycleRun.objects.filter(account=account).defer("decision", "error").order_by("-bar_time")[:limit]
    return [cycle_row(r) for r in rows]


def recent_reconciliations(*, account: TradingAccount, limit: int = RECONCILIATIONS) -> list[dict]:
    rows = Reconciliation.objects.filter(account=account).order_by("-at", "-pk")[:limit]
    return [reconciliation_row(r) for r in rows]


def open_alerts(*, account: TradingAccount | None, limit: int = ALERTS) -> list[dict]:
    """The account's unresolved alerts and the desk-wide ones (None: every unresolved alert)."""
    qs = alerts_open()
    if account is not None:
        qs = qs.filter(Q(account=account) | Q(account__isnull=True))
    return [alert_row(a) for a in qs[:limit]]


def kill_switch(*, account: TradingAccount | None) -> dict:
    """The account's kill switch block (None: the desk switch alone), one query."""
    rows = {
        s.desk: s
        for s in KillSwitch.objects.filter(Q(desk=True) | Q(account=account) if account else Q(desk=True))
    }
    return killswitch_block(
        account_switch=rows.get(False), desk_switch=rows.get(True), desk_only=account is None
    )


def model_block(*, link: AccountModelVersion | None) -> dict:
    """Which version trades the account, its stage, since when it trades it, its strategy page."""
    if link is None:
        return {"version": None, "stage": None, "since": None, "url": None}
    version = link.model_version
    strategy = version.strategy
    return {
        "version": f"{strategy.name} v{version.version}",
        "strategy": strategy.name,
        "stage": version.stage,
        "since": when(link.linked_at),
        "url": reverse("strategies:detail", args=[strategy.name]),
    }


def active_link(*, account: TradingAccount) -> AccountModelVersion | None:
    return (
        AccountModelVersion.objects.filter(account=account, active=True)
        .select_related("model_version__strategy")
        .first()
    )
