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
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.alerts.models import AlertKind, Severity
from apps.alerts.services import alert_raise
from apps.cockpit.rows import reconciliation_row
from apps.core.realtime import account_stream, stream_publish
from apps.live.models import CycleRun, ReconcileTrigger, Reconciliation
from apps.trading.brokers.base import Broker, BrokerError
from apps.trading.models import AccountModelVersion, TradingAccount

from ..switch import killswitch_halt, reconcile_alert_key
from .steps import Run, compare_positions, match_open_orders, recover_fills, settle_in_flight

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    """The broker could not answer a reconciliation read: nothing compared, nothing halted (a
    `broker_disconnected` alert is open). `cause` is the broker's error."""

    def __init__(self, message: str, *, cause: BrokerError) -> None:
        super().__init__(message)
        self.cause = cause


def broker_alert_key(account_id: int) -> str:
    """The dedup key of an account's one open broker-disconnected alert."""
    return f"broker:{account_id}"


def account_reconcile(
    *,
    account: TradingAccount,
    broker: Broker,
    trigger: str,
    cycle: CycleRun | None = None,
    now: dt.datetime | None = None,
) -> Reconciliation:
    """Reconcile `account` with `broker` (steps in the module docstring) and return the stored
    row. Meant to run outside a transaction (each step commits on its own, and broker calls should
    not hold one open). `now` is the desk's wall clock, for the age of orders in flight (default:
    now). Raises `BrokerUnavailable` when the broker cannot answer."""
    if trigger not in ReconcileTrigger.values:
        raise ValueError(f"unknown reconciliation trigger {trigger!r}; known: {ReconcileTrigger.values}")
    now = now or timezone.now()
    run = Run(
        account=account, broker=broker, now=now, since=fills_window_start(account=account, broker=broker)
    )
    run.flagged_fills = _reported_unknown_fills(account=account, now=now)
    try:
        settle_in_flight(run)
        recover_fills(run)
        match_open_orders(run)
        compare_positions(run)
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


# --- e. the record, the halt and the alert -----------------------------------------------------


def _record(run: Run, *, trigger: str, cycle: CycleRun | None) -> Reconciliation:
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
        stream_publish(
            stream=account_stream(account.pk),
            event="health",
            payload={"account": account.name, "reconciliation": reconciliation_row(row)},
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


def _unavailable(run: Run, exc: BrokerError) -> BrokerUnavailable:
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
