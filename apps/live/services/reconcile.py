"""Reconciliation: the desk's books against the broker's, at worker start (`accounts_reconcile`),
at the start of every cycle and after every reconnect of the broker's order stream.

`account_reconcile` runs four steps, each through the trading services (so every change is a
transition with its event row, every fill recorded once by its execution id):

a. in flight: each order sent with no answer yet is looked up by client order id
   (`order_resolve_in_flight`): adopted, or rejected once it is definitively not found for long
   enough; `resolved_orders` counts the ones settled;
b. recent fills: every fill the broker reports since the window start that the desk lacks is
   recorded (`recovered_fills`); a fill for an order the account does not know is a break
   (`unknown_fill`, reported by the first reconciliation that sees it);
c. open orders: the broker's open orders are applied to ours; an open order that is not ours is a
   break (`unknown_order`); an order we think is working that the broker does not list as open is
   looked up by client order id and its state applied (it may have filled or been cancelled), a
   working order the broker does not know at all is a break (`missing_order`);
d. positions: the broker's against the sum of our fills (`account_book`) per symbol: a difference
   beyond `RECONCILE_QTY_TOLERANCE` is a break (`position`), a short position at the broker always
   is one (`negative_position`; the desk is long-only). A difference gets one second look (fills
   recovered again, both sides read again) before it counts: a live venue may fill between two
   reads.

Then one `Reconciliation` row. On any break, in the same transaction: the account's kill switch
HALTs (no new orders, cancels allowed) and a critical `reconciliation_break` alert (one per
account) names the breaks; UNLOCK by a risk officer resolves that alert (services.switch).

A broker that cannot answer (timeout, 5xx, 429, a refused or malformed answer to a read) is not a
break: nothing is halted, no row is written (the next run's fill window starts where the last
recorded one did), a `broker_disconnected` alert is raised and `BrokerUnavailable` propagates.

Clocks: `Reconciliation.at` is the desk's wall clock, fills are stamped by the broker's clock,
which for the paper venue is the desk's market clock (a replay's hours): the fill window starts
`RECONCILE_FILLS_LOOKBACK_S` before the last reconciliation, or the account's creation, and never
after the broker's own present (its `clock()` when it has one).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.alerts.models import AlertKind, Severity
from apps.alerts.services import alert_raise
from apps.core.statemachine import TransitionError
from apps.live.models import CycleRun, ReconcileTrigger, Reconciliation
from apps.trading.brokers.base import Broker, BrokerError, BrokerFill, BrokerOrder, OrderNotFound
from apps.trading.models import AccountModelVersion, Fill, Order, TradingAccount
from apps.trading.orders import IN_FLIGHT, WORKING
from apps.trading.selectors import account_book
from apps.trading.services import fill_record, order_report_apply, order_resolve_in_flight

from .switch import killswitch_halt, reconcile_alert_key

log = logging.getLogger(__name__)
ZERO = Decimal(0)


def _qty(value: Decimal) -> str:
    """A quantity as plain digits, without the database's trailing zeros ("100", "0.5")."""
    return format(value.normalize(), "f") if value else "0"


class BrokerUnavailable(RuntimeError):
    """The broker could not answer a reconciliation read: nothing compared, nothing halted (a
    `broker_disconnected` alert is open). `cause` is the broker's error."""

    def __init__(self, message: str, *, cause: BrokerError) -> None:
        super().__init__(message)
        self.cause = cause


def broker_alert_key(account_id: int) -> str:
    """The dedup key of an account's one open broker-disconnected alert."""
    return f"broker:{account_id}"


@dataclass
class _Run:
    account: TradingAccount
    broker: Broker
    now: dt.datetime
    since: dt.datetime
    breaks: list[dict[str, Any]] = field(default_factory=list)
    recovered_fills: int = 0
    resolved_orders: int = 0
    notes: list[str] = field(default_factory=list)
    flagged_fills: set[str] = field(default_factory=set)  # unknown executions reported earlier
    reported: set[str] = field(default_factory=set)  # executions this run reported as a break

    @property
    def source(self) -> str:
        return f"reconcile:{self.broker.name}"

    def brk(
        self, kind: str, *, symbol: str = "", ours: Any = "", broker: Any = "", detail: str, **extra
    ) -> None:
        self.breaks.append(
            {"kind": kind, "symbol": symbol, "ours": str(ours), "broker": str(broker), "detail": detail}
            | {k: str(v) for k, v in extra.items()}
        )


def account_reconcile(
    *,
    account: TradingAccount,
    broker: Broker,
    trigger: str,
    cycle: CycleRun | None = None,
    now: dt.datetime | None = None,
) -> Reconciliation:
    """Reconcile `account` with `broker` (steps in the module docstring) and return the stored
    row. Must run outside a transaction (each step commits on its own; broker calls never run
    inside one). `now` is the desk's wall clock (in-flight ages; default: now). Raises
    `BrokerUnavailable` when the broker cannot answer."""
    if trigger not in ReconcileTrigger.values:
        raise ValueError(f"unknown reconciliation trigger {trigger!r}; known: {ReconcileTrigger.values}")
    now = now or timezone.now()
    run = _Run(
        account=account, broker=broker, now=now, since=fills_window_start(account=account, broker=broker)
    )
    run.flagged_fills = _reported_unknown_fills(account=account, now=now)
    try:
        _settle_in_flight(run)
        _recover_fills(run)
        _match_open_orders(run)
        _compare_positions(run)
    except BrokerError as exc:
        raise _unavailable(run, exc) from exc
    return _record(run, trigger=trigger, cycle=cycle)


def fills_window_start(*, account: TradingAccount, broker: Broker) -> dt.datetime:
    """Where the broker is asked for fills from (see "Clocks" in the module docstring)."""
    last = account.reconciliations.order_by("-at", "-pk").values_list("at", flat=True).first()
    anchor = last or account.created_at
    clock = getattr(broker, "clock", None)
    if callable(clock):
        anchor = min(anchor, clock())
    return anchor - dt.timedelta(seconds=settings.RECONCILE_FILLS_LOOKBACK_S)


def _reported_unknown_fills(*, account: TradingAccount, now: dt.datetime) -> set[str]:
    """Execution ids of unknown fills already reported by a break of the lookback window."""
    start = now - dt.timedelta(seconds=settings.RECONCILE_FILLS_LOOKBACK_S)
    rows = Reconciliation.objects.filter(account=account, ok=False, at__gte=start).values_list(
        "breaks", flat=True
    )
    return {b.get("execution_id", "") for breaks in rows for b in breaks if b.get("kind") == "unknown_fill"}


# --- a. in flight ------------------------------------------------------------------------------


def _settle_in_flight(run: _Run) -> None:
    pending = list(Order.objects.filter(account=run.account, status__in=IN_FLIGHT).order_by("pk"))
    for order in pending:
        try:
            order = order_resolve_in_flight(order=order, broker=run.broker, now=run.now)
        except TransitionError as exc:
            run.brk(
                "order_status",
                symbol=order.symbol,
                ours=order.status,
                detail=f"{order.client_order_id}: {exc}",
            )
            continue
        run.resolved_orders += order.status not in IN_FLIGHT
    if pending:
        run.notes.append(f"in flight: {run.resolved_orders} of {len(pending)} settled")


# --- b. recent fills ---------------------------------------------------------------------------


def _recover_fills(run: _Run) -> None:
    fills = run.broker.fills_since(run.since)
    known = set(
        Fill.objects.filter(
            account=run.account, execution_id__in=[f.execution_id for f in fills]
        ).values_list("execution_id", flat=True)
    )
    missing = [f for f in fills if f.execution_id not in known]
    orders = _orders_for(run.account, missing)
    recovered = 0
    for fill in missing:
        if fill.execution_id in run.reported:  # the second look meets it again
            continue
        order = orders.get(fill.client_order_id) or orders.get(("broker", fill.broker_order_id))
        if order is None:
            _unknown_fill(run, fill)
            continue
        try:
            _row, created = fill_record(order=order, fill=fill, source=run.source)
        except ValueError as exc:  # the fill contradicts its order (symbol, side, amounts)
            run.reported.add(fill.execution_id)
            run.brk("fill_mismatch", symbol=fill.symbol, detail=str(exc), execution_id=fill.execution_id)
            continue
        recovered += created
    run.recovered_fills += recovered
    run.notes.append(
        f"fills since {run.since:%Y-%m-%d %H:%M}: {len(fills)} at the broker, {recovered} recovered"
    )


def _orders_for(account: TradingAccount, fills: list[BrokerFill]) -> dict:
    """The account's orders of `fills`, by client order id and by ("broker", broker order id)."""
    if not fills:
        return {}
    rows = list(Order.objects.filter(account=account, client_order_id__in={f.client_order_id for f in fills}))
    rows += Order.objects.filter(
        account=account, broker_order_id__in={f.broker_order_id for f in fills if f.broker_order_id}
    )
    by_key: dict = {}
    for order in rows:
        by_key[order.client_order_id] = order
        if order.broker_order_id:
            by_key[("broker", order.broker_order_id)] = order
    return by_key


def _unknown_fill(run: _Run, fill: BrokerFill) -> None:
    run.reported.add(fill.execution_id)
    if fill.execution_id in run.flagged_fills:
        return
    run.brk(
        "unknown_fill",
        symbol=fill.symbol,
        broker=f"{fill.side} {_qty(fill.qty)} @ {fill.price}",
        detail=f"execution {fill.execution_id} at {fill.at:%Y-%m-%d %H:%M} is for an order this account "
        f"does not know ({fill.client_order_id or fill.broker_order_id})",
        execution_id=fill.execution_id,
        client_order_id=fill.client_order_id,
    )


# --- c. open orders ----------------------------------------------------------------------------


def _match_open_orders(run: _Run) -> None:
    open_at_broker = run.broker.open_orders()
    ours = set(
        Order.objects.filter(
            account=run.account, client_order_id__in=[o.client_order_id for o in open_at_broker]
        ).values_list("client_order_id", flat=True)
    )
    updated = 0
    for reported in open_at_broker:
        if reported.client_order_id in ours:
            updated += _apply(run, reported)
        else:
            run.brk(
                "unknown_order",
                symbol=reported.symbol,
                broker=f"{reported.side} {_qty(reported.qty)} ({reported.broker_status})",
                detail=f"open order {reported.client_order_id} ({reported.broker_order_id}) is not this "
                "account's",
                client_order_id=reported.client_order_id,
            )
    listed = {o.client_order_id for o in open_at_broker}
    gone = Order.objects.filter(account=run.account, status__in=WORKING - IN_FLIGHT).exclude(
        client_order_id__in=listed
    )
    for order in gone.order_by("pk"):
        try:
            reported = run.broker.order_by_client_id(order.client_order_id)
        except OrderNotFound:
            run.brk(
                "missing_order",
                symbol=order.symbol,
                ours=order.status,
                detail=f"{order.client_order_id} is {order.status} here; the broker has no such order",
                client_order_id=order.client_order_id,
            )
            continue
        updated += _apply(run, reported)
    run.notes.append(f"open orders: {len(open_at_broker)} at the broker, {updated} of ours updated")


def _apply(run: _Run, reported: BrokerOrder) -> bool:
    """Apply the broker's view of one of our orders; True when its status changed."""
    before = (
        Order.objects.filter(client_order_id=reported.client_order_id).values_list("status", flat=True).get()
    )
    try:
        after = order_report_apply(report=reported, source=run.source).status
    except TransitionError as exc:
        run.brk(
            "order_status",
            symbol=reported.symbol,
            ours=before,
            broker=reported.broker_status,
            detail=f"{reported.client_order_id}: {exc}",
            client_order_id=reported.client_order_id,
        )
        return False
    return after != before


# --- d. positions ------------------------------------------------------------------------------


def _compare_positions(run: _Run) -> None:
    found = _position_breaks(run)
    if found:
        run.notes.append("positions differed: second look")
        _recover_fills(run)
        found = _position_breaks(run)
    run.breaks += found


def _position_breaks(run: _Run) -> list[dict[str, Any]]:
    held: dict[str, Decimal] = {}
    for position in run.broker.positions():
        held[position.symbol] = held.get(position.symbol, ZERO) + position.qty
    ours = {s: p.qty for s, p in account_book(account=run.account).positions.items()}
    tolerance = Decimal(settings.RECONCILE_QTY_TOLERANCE)
    found = []
    for symbol in sorted(set(held) | set(ours)):
        mine, theirs = ours.get(symbol, ZERO), held.get(symbol, ZERO)
        if theirs < 0:
            kind, detail = "negative_position", f"short {_qty(-theirs)} at the broker (the desk is long-only)"
        elif abs(mine - theirs) > tolerance:
            kind, detail = (
                "position",
                f"the broker holds {_qty(theirs)}, the sum of our fills is {_qty(mine)}",
            )
        else:
            continue
        found.append(
            {"kind": kind, "symbol": symbol, "ours": _qty(mine), "broker": _qty(theirs), "detail": detail}
            | {"difference": _qty(theirs - mine)}
        )
    run.notes.append(f"positions: {len(set(held) | set(ours))} symbols compared")
    return found


# --- e. the record, the halt and the alert -----------------------------------------------------


def _record(run: _Run, *, trigger: str, cycle: CycleRun | None) -> Reconciliation:
    account = run.account
    with transaction.atomic():
        row = Reconciliation.objects.create(
            account=account,
            cycle=cycle,
            trigger=trigger,
            ok=not run.breaks,
            breaks=run.breaks,
            recovered_fills=run.recovered_fills,
            resolved_orders=run.resolved_orders,
            detail="; ".join(run.notes),
        )
        if run.breaks:
            summary = _summary(run.breaks)
            killswitch_halt(
                account=account,
                reason=f"reconciliation break: {summary}",
                payload={"reconciliation_id": row.pk},
            )
            alert_raise(
                kind=AlertKind.RECONCILIATION_BREAK,
                severity=Severity.CRITICAL,
                account=account,
                message=f"account {account.name} halted: reconciliation with {run.broker.name} found "
                f"{len(run.breaks)} break(s): {summary}",
                details={"reconciliation_id": row.pk, "trigger": trigger, "breaks": run.breaks},
                dedup_key=reconcile_alert_key(account.pk),
            )
    if run.breaks:
        log.error("reconciliation %s of %s: %s", row.pk, account.name, _summary(run.breaks))
    return row


def _summary(breaks: list[dict[str, Any]], *, limit: int = 5) -> str:
    named = [f"{b['kind']} {b['symbol'] or b.get('client_order_id', '')}".strip() for b in breaks]
    return ", ".join(named[:limit]) + (f" and {len(named) - limit} more" if len(named) > limit else "")


# --- f. a broker that cannot answer ------------------------------------------------------------


def _unavailable(run: _Run, exc: BrokerError) -> BrokerUnavailable:
    message = (
        f"account {run.account.name}: reconciliation could not read the {run.broker.name} broker "
        f"({type(exc).__name__}: {exc}); nothing compared, nothing halted"
    )
    log.warning("%s", message)
    alert_raise(
        kind=AlertKind.BROKER_DISCONNECTED,
        severity=Severity.CRITICAL,
        account=run.account,
        message=message,
        details={"error": type(exc).__name__},
        dedup_key=broker_alert_key(run.account.pk),
    )
    return BrokerUnavailable(message, cause=exc)


# --- every account -----------------------------------------------------------------------------


def accounts_reconcile(*, trigger: str) -> list[Reconciliation]:
    """Reconcile every account that trades a version (an active link), each through
    `settings.TRADING_BROKER_FACTORY`. One account's failure is logged and alerted and does not
    stop the others; returns the rows of the accounts that were reconciled."""
    factory = import_string(settings.TRADING_BROKER_FACTORY)
    account_ids = AccountModelVersion.objects.filter(active=True).values_list("account_id", flat=True)
    rows = []
    for account in TradingAccount.objects.filter(pk__in=account_ids).order_by("pk"):
        try:
            rows.append(account_reconcile(account=account, broker=factory(account), trigger=trigger))
        except BrokerUnavailable:
            continue  # alerted
        except Exception as exc:  # one account must not stop the others
            log.exception("reconciliation of %s failed", account.name)
            alert_raise(
                kind=AlertKind.BROKER_DISCONNECTED,
                severity=Severity.CRITICAL,
                account=account,
                message=f"account {account.name}: reconciliation ({trigger}) failed: {type(exc).__name__}: {exc}",
                details={"error": type(exc).__name__},
                dedup_key=broker_alert_key(account.pk),
            )
    return rows
