"""The hourly cycle of one account at one bar close, exactly once:

claim (CycleRun unique on account + bar, under the account's cycle lock) -> venue (paper: the
simulated venue fills the last cycle's orders at this bar's open) -> reconcile (positions, open
orders, recent fills, orders in flight vs the broker; a break halts the account) -> data (the
configured feed, then the point-in-time panel as known at the bar; stale or missing names are
blocked, never filled forward) -> decide (the backtest's own kernel: features / signal, optimizer,
governor, and the orders in shares) -> persist (pre-trade controls; every order committed
`pending_new` or refused BEFORE anything is sent) -> submit (each order through the kill switch's
gate: once a STOP commits nothing more leaves) -> settle (PnL, implementation shortfall, the paper
tracking record, health) -> broadcast after commit.

Every step is idempotent, so a run taken over after its worker died (`resume`) or retried after a
failure simply runs them again: orders are found by client order id, only `pending_new` orders are
sent, an order whose submission outcome is unknown is settled by reconciliation's lookup by client
order id, fills are unique by execution id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import time
from decimal import ROUND_DOWN, Decimal

import numpy as np
import pandas as pd
from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.utils import timezone

from apps.alerts.models import AlertKind, Severity
from apps.alerts.services import alert_raise
from apps.live.brokers import broker_for
from apps.live.machine import State
from apps.live.models import CycleRun
from apps.live.selectors import killswitch_effective
from apps.live.services import account_reconcile, killswitch_trip
from apps.strategies.lifecycle import config_sha256
from apps.trading.brokers.base import Broker, OrderSide, OrderType, TimeInForce
from apps.trading.models import AccountModelVersion, Order, TradingAccount
from apps.trading.selectors import account_book
from apps.trading.services import KillSwitchTrip, OrderDecision, order_submit, orders_create
from apps.universes.selectors import universe_members
from workers.engine.decide.kernel import Decision, GovernorState

from .claim import account_cycle_lock, cycle_claim, cycle_finish
from .data import (
    MISSING,
    CycleDataError,
    anchor_date,
    blocked_symbols,
    cycle_panel,
    feed_poll,
    kernel_account,
    last_closes,
    market_date,
)
from .kernels import kernel_decided, kernel_for
from .machine import CycleStatus
from .mark import mark_announce
from .settle import cycle_settle, previous_cycle
from .stale import previous_orders_cancel

log = logging.getLogger(__name__)

QTY_STEP = Decimal("0.000001")  # the order table's quantity precision (6 decimals)
_BLOCKED_LISTED = 20


def governor_stored(state: GovernorState) -> dict:
    """JSON for the database (PostgreSQL's jsonb has no infinity: a peak not set yet is null)."""
    return {"state": state.state, "peak": state.peak if math.isfinite(state.peak) else None}


def governor_resumed(stored: dict | None) -> GovernorState:
    if not stored:
        return GovernorState()
    peak = stored.get("peak")
    return GovernorState(state=stored["state"], peak=-math.inf if peak is None else float(peak))


class CycleBusy(RuntimeError):
    """Another worker is running a cycle of this account: try again shortly."""


def _utc(bar_time: dt.datetime | str) -> dt.datetime:
    return pd.Timestamp(bar_time).tz_convert("UTC").to_pydatetime()


def cycle_run(
    *, account: TradingAccount, bar_time: dt.datetime | str, trigger: str, broker: Broker | None = None
) -> CycleRun:
    """Run the cycle of `account` at `bar_time` unless it has run (returns the run either way).
    Raises CycleBusy when another worker holds the account, and re-raises what failed the run
    (after recording it) so the caller's bounded retries can try again."""
    bar_time = _utc(bar_time)
    with account_cycle_lock(account.pk) as got:
        if not got:
            raise CycleBusy(f"account {account.name}: a cycle is running on another worker")
        run = cycle_claim(account=account, bar_time=bar_time, trigger=trigger)
        if run is None:
            return CycleRun.objects.get(account=account, bar_time=bar_time)
        try:
            _Cycle(run=run, account=account, broker=broker).execute()
        except BaseException as exc:  # noqa: BLE001 - every failure is recorded on the run
            _record_failure(run, exc)
            raise
    run.refresh_from_db()
    return run


def _record_failure(run: CycleRun, exc: BaseException) -> None:
    if isinstance(exc, SoftTimeLimitExceeded):
        reason = "time limit exceeded: the cycle took longer than LIVE_CYCLE_SOFT_TIME_LIMIT"
    else:
        reason = f"{type(exc).__name__}: {exc}"[:500]
    log.exception("cycle %s failed", run)
    run.refresh_from_db(fields=["status"])
    if run.status != CycleStatus.RUNNING:
        return
    with transaction.atomic():
        cycle_finish(run=run, event="fail", reason=reason, error=reason)
        alert_raise(
            kind=AlertKind.CYCLE_FAILED,
            severity=Severity.CRITICAL,
            message=f"cycle of {run.account.name} at {run.bar_time:%Y-%m-%d %H:%M} UTC failed: {reason}",
            account=run.account,
            details={"cycle_id": run.pk, "attempt": run.attempts},
            dedup_key=f"cycle_failed:{run.account_id}",
        )


class _Cycle:
    def __init__(self, *, run: CycleRun, account: TradingAccount, broker: Broker | None) -> None:
        self.run = run
        self.account = account
        self.bar_time = run.bar_time
        self.broker = broker
        self.broker_in_use: Broker | None = None  # the explicit broker, or the account's (execute)
        self.timings: dict[str, float] = dict(run.timings or {})
        self._clock = time.perf_counter()

    def step(self, name: str, **fields) -> None:
        now = time.perf_counter()
        self.timings[name] = round((now - self._clock) * 1000.0, 3)
        self._clock = now
        CycleRun.objects.filter(pk=self.run.pk).update(step=name, timings=self.timings, **fields)

    def finish(self, event: str, reason: str, mark: dict | None = None, **fields) -> None:
        """Finish the run (cycle_finish announces it); `mark`: mark_announce's arguments, the
        account marked at the bar's closes, announced in the same transaction."""
        with transaction.atomic():
            cycle_finish(run=self.run, event=event, reason=reason, timings=self.timings, **fields)
            if mark is not None:
                mark_announce(account=self.account, bar_time=self.bar_time, **mark)

    def execute(self) -> None:
        link = (
            AccountModelVersion.objects.filter(account=self.account, active=True)
            .select_related("model_version__strategy__universe")
            .first()
        )
        if link is None:
            self.finish("skip", f"account {self.account.name} trades no model version")
            return
        version = link.model_version
        self.step("claimed", model_version=version, config_sha256=config_sha256(version.config))
        broker = self.broker_in_use = self.broker or broker_for(self.account, clock=lambda: self.bar_time)
        if hasattr(broker, "advance"):  # the simulated venue fills at this bar's open
            broker.advance(up_to=self.bar_time)
            self.step("venue")
        account_reconcile(account=self.account, broker=broker, trigger="cycle", cycle=self.run)
        self.step("reconciled")

        strategy = version.strategy
        try:
            members = universe_members(strategy.universe, market_date(self.bar_time))
            blocked = feed_poll(symbols=members, bar_time=self.bar_time)
            build = cycle_panel(
                strategy=strategy,
                anchor=anchor_date(account=self.account, version=version, bar_time=self.bar_time),
                bar_time=self.bar_time,
            )
        except CycleDataError as exc:
            self._alert_stale(str(exc), {})
            self.finish("skip", f"no data: {exc}")
            return
        panel = build.panel
        blocked |= blocked_symbols(build)
        previous = previous_cycle(run=self.run)
        missing_digest = self._alert_blocked(blocked, previous)
        self.step("data", data_hash=build.data_hash)

        book = account_book(account=self.account)
        governor = governor_resumed(previous.decision.get("governor") if previous else None)
        held = kernel_account(book=book, panel=panel, governor=governor)
        switch = killswitch_effective(account=self.account)
        if switch.state != State.ACTIVE:
            summary = cycle_settle(run=self.run, version=version, build=build, decided=False)
            self.finish("skip", f"kill switch {switch.state}: no new orders this cycle", summary=summary)
            return

        closes = last_closes(panel)
        marks = {
            s: Decimal(repr(float(c))) for s, c in zip(panel.symbols, closes, strict=True) if np.isfinite(c)
        }
        orders = list(Order.objects.filter(cycle=self.run).order_by("pk"))
        if orders:
            # A resumed run whose orders were committed before its worker died: they are this
            # cycle's orders. Deciding again could give another set (fills arrived meanwhile).
            self.run.refresh_from_db(fields=["decision"])
            record = self.run.decision
        else:
            record, orders = self._decide_and_persist(
                version=version,
                build=build,
                blocked=blocked,
                book=book,
                held=held,
                previous=previous,
                marks=marks,
                missing_digest=missing_digest,
            )
        for order in orders:
            if order.status == "pending_new":
                order_submit(order=order, broker=broker, arrival_price=marks.get(order.symbol))
        self.step("submitted")
        summary = cycle_settle(run=self.run, version=version, build=build, decided=True)
        summary["health"] = {
            "kill_switch": killswitch_effective(account=self.account).state,
            "blocked": len(blocked),
            "kernel": record.get("kernel"),
            "allocator": record.get("status"),
            "compute_ms": record.get("compute_ms"),
        }
        self.step("settled")
        mark = {"marks": marks, "day_start_equity": self._day_start_equity(held.equity), "decision": record}
        self.finish("succeed", f"{len(orders)} order(s) decided", mark=mark, summary=summary)

    def _decide_and_persist(self, *, version, build, blocked, book, held, previous, marks, missing_digest):
        """The kernel's decision and its orders through the controls, committed before any is sent."""
        panel = build.panel
        kernel, continued = kernel_for(
            account_id=self.account.pk, version=version, previous_bar=previous.bar_time if previous else None
        )
        started = time.perf_counter()
        decision = kernel.decide(panel, held.state)
        decisions = order_decisions(decision=decision, panel=panel, blocked=blocked, book=book, kernel=kernel)
        compute_ms = (time.perf_counter() - started) * 1000.0
        kernel_decided(account_id=self.account.pk, version=version, kernel=kernel, bar_time=self.bar_time)
        record = decision.to_record(panel.symbols)
        record["governor"] = governor_stored(decision.governor)
        record.update(
            kernel="continued" if continued else "fresh",
            compute_ms=round(compute_ms, 3),
            equity=held.equity,
            blocked=dict(sorted(blocked.items())[:_BLOCKED_LISTED]),
            missing_digest=missing_digest,
            unmanaged={s: str(q) for s, q in held.unmanaged.items()},
        )
        self.step("decided", decision=record)
        previous_orders_cancel(account=self.account, broker=self.broker_in_use, before=self.bar_time)
        try:
            orders = orders_create(
                account=self.account,
                model_version=version,
                bar_time=self.bar_time,
                decisions=decisions,
                marks=marks,
                day_start_equity=self._day_start_equity(held.equity),
                config_sha256=self.run.config_sha256 or config_sha256(version.config),
                data_hash=build.data_hash,
                decision_time=timezone.now(),
                cycle_id=self.run.pk,
                source="cycle",
            )
        except KillSwitchTrip as trip:  # the refusals and the trip are committed; the switch stops
            orders = trip.orders
            killswitch_trip(trip=trip)
        self.step("persisted")
        return record, orders

    def _day_start_equity(self, equity: float) -> Decimal:
        """Equity at the first cycle of this market date (the intraday loss limit's base)."""
        day = market_date(self.bar_time)
        for run in CycleRun.objects.filter(
            account=self.account,
            bar_time__lt=self.bar_time,
            bar_time__gte=self.bar_time - dt.timedelta(days=1),
        ).order_by("bar_time"):
            if market_date(run.bar_time) == day and run.decision.get("equity"):
                return Decimal(repr(run.decision["equity"]))
        return Decimal(repr(equity))

    def _alert_blocked(self, blocked: dict[str, str], previous: CycleRun | None) -> str:
        """Alert the names blocked this cycle: always when some are stale (their bar did not come),
        and for members without any bar only when that set changed since the last cycle (a
        coverage gap of the data we hold is not news every hour). Returns the gap's digest."""
        missing = sorted(s for s, why in blocked.items() if why == MISSING)
        digest = hashlib.sha256(",".join(missing).encode()).hexdigest()[:16] if missing else ""
        stale = {s: why for s, why in blocked.items() if why != MISSING}
        known_gap = previous is not None and previous.decision.get("missing_digest", "") == digest
        if stale or (missing and not known_gap):
            self._alert_stale(
                f"{len(stale)} name(s) stale, {len(missing)} member(s) without any bar", stale or blocked
            )
        return digest

    def _alert_stale(self, message: str, blocked: dict[str, str]) -> None:
        listed = ", ".join(f"{s} ({why})" for s, why in sorted(blocked.items())[:_BLOCKED_LISTED])
        alert_raise(
            kind=AlertKind.STALE_DATA,
            severity=Severity.WARNING,
            message=f"{self.account.name} at {self.bar_time:%Y-%m-%d %H:%M} UTC: {message}"
            + (f": {listed}" if listed else ""),
            account=self.account,
            details={"cycle_id": self.run.pk, "blocked": dict(sorted(blocked.items())[:_BLOCKED_LISTED])},
            dedup_key=f"stale:{self.account.pk}",
        )


def order_decisions(*, decision: Decision, panel, blocked, book, kernel) -> list[OrderDecision]:
    """The kernel's share orders as order decisions: sells first (their cash pays for the buys),
    blocked names left out, sells never above what is held, quantities cut to the order table's 6
    decimals. Market orders (the controls turn them into protective limits at the collar); IOC
    when the backtest cancels what does not fill at the next bar (`remainder="cancel"`)."""
    t = len(panel.index) - 1
    price_t = panel.as_traded_close(t)
    tif = TimeInForce.IOC if kernel.backtest.remainder == "cancel" else TimeInForce.DAY
    out: list[OrderDecision] = []
    for i in np.flatnonzero(decision.orders):
        x = float(decision.orders[i])
        symbol = panel.symbols[i]
        if symbol in blocked or not np.isfinite(x) or not np.isfinite(price_t[i]):
            continue
        side = OrderSide.BUY if x > 0 else OrderSide.SELL
        qty = Decimal(repr(abs(x))).quantize(QTY_STEP, rounding=ROUND_DOWN)
        if side == OrderSide.SELL:
            position = book.positions.get(symbol)
            qty = min(qty, position.qty if position else Decimal(0))
        if qty <= 0:
            continue
        out.append(
            OrderDecision(
                symbol=symbol,
                side=side,
                qty=qty,
                type=OrderType.MARKET,
                time_in_force=tif,
                decision_price=Decimal(repr(float(price_t[i]))),
            )
        )
    out.sort(key=lambda d: (d.side != OrderSide.SELL, d.symbol))
    return out
