"""The trade_updates runner of one Alpaca account (`manage.py trade_updates --account NAME`).

Alpaca's stream (apps.trading.brokers.alpaca.stream.TradeUpdatesStream) pushes order events and
replays nothing, so:
- every update goes through `order_report_apply` (fills recorded once by execution id, statuses
  through the order table, duplicates and late updates harmless); an update for an order the desk
  does not know is logged and skipped (reconciliation reports it as a break if it is this
  account's open order or fill);
- after every (re)connect, the first one included, `account_reconcile(trigger=reconnect)` recovers
  over REST whatever the stream missed (and halts the account on a break);
- a drop raises (or bumps) the account's one `broker_disconnected` alert; the reconnect bumps the
  same alert with a "reconnected" message (it stays open for a person to resolve: the alerts app
  has no desk-side resolution).

One process per account (Alpaca allows one trade_updates connection per key pair). Runs until
`stop()`; an error other than those above ends `run()` and the process (its supervisor restarts
it, and the restart reconciles).
"""

from __future__ import annotations

import logging

from django.db import connections

from apps.alerts.models import AlertKind, Severity
from apps.alerts.selectors import alerts_open
from apps.alerts.services import alert_raise
from apps.core.statemachine import TransitionError
from apps.live.models import ReconcileTrigger
from apps.live.services import BrokerUnavailable, account_reconcile, broker_alert_key
from apps.trading.brokers.alpaca import AlpacaCredentials, Backoff, TradeUpdatesStream
from apps.trading.brokers.base import Broker, OrderEventReport
from apps.trading.models import Endpoint, TradingAccount
from apps.trading.services import UnknownOrder, order_report_apply

log = logging.getLogger(__name__)


class TradeUpdatesRunner:
    def __init__(
        self,
        *,
        account: TradingAccount,
        broker: Broker,
        credentials: AlpacaCredentials,
        url: str | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.account = account
        self.broker = broker
        self.source = f"stream:{broker.name}"
        self.applied = 0  # updates applied
        self.skipped = 0  # updates for orders the desk does not know, or that contradict ours
        self.reconciliations = []  # the rows written after each (re)connect
        self.stream = TradeUpdatesStream(
            credentials=credentials,
            on_update=self.on_update,
            on_reconnect=self.on_reconnect,
            on_disconnect=self.on_disconnect,
            paper=account.endpoint == Endpoint.PAPER,
            url=url,
            backoff=backoff,
        )

    def __repr__(self) -> str:
        return f"TradeUpdatesRunner({self.account.name!r}, {self.stream.url!r})"

    def run(self) -> None:
        """Blocks until `stop()` (or a refused key pair: StreamUnauthorized)."""
        try:
            self.stream.run()
        finally:
            connections.close_all()  # this thread's database connections

    def stop(self) -> None:
        self.stream.stop()

    def on_update(self, report: OrderEventReport) -> None:
        cid = report.order.client_order_id
        try:
            order_report_apply(report=report, source=self.source)
        except UnknownOrder:
            self.skipped += 1
            log.warning("%s: %s update for unknown order %s skipped", self.account.name, report.event, cid)
            return
        except ValueError as exc:  # TransitionError, or a fill that contradicts its order
            self.skipped += 1
            kind = "impossible transition" if isinstance(exc, TransitionError) else "bad fill"
            log.error(
                "%s: %s update for %s skipped (%s): %s", self.account.name, report.event, cid, kind, exc
            )
            return
        self.applied += 1

    def on_reconnect(self) -> None:
        if self.stream.connections > 1:
            self._bump_disconnect_alert(
                f"account {self.account.name}: trade_updates reconnected; reconciling over REST"
            )
        try:
            row = account_reconcile(
                account=self.account, broker=self.broker, trigger=ReconcileTrigger.RECONNECT
            )
        except BrokerUnavailable as exc:  # alerted; the next reconnect or cycle tries again
            log.warning("%s: reconciliation after connect failed: %s", self.account.name, exc)
            return
        self.reconciliations.append(row)

    def on_disconnect(self, reason: str) -> None:
        alert_raise(
            kind=AlertKind.BROKER_DISCONNECTED,
            severity=Severity.WARNING,
            account=self.account,
            message=f"account {self.account.name}: trade_updates disconnected ({reason}); reconnecting",
            details={"stream": self.stream.url, "reason": reason},
            dedup_key=broker_alert_key(self.account.pk),
        )

    def _bump_disconnect_alert(self, message: str) -> None:
        key = broker_alert_key(self.account.pk)
        if alerts_open(account=self.account).filter(dedup_key=key).exists():
            alert_raise(
                kind=AlertKind.BROKER_DISCONNECTED,
                severity=Severity.INFO,
                account=self.account,
                message=message,
                details={"stream": self.stream.url, "reconnected": True},
                dedup_key=key,
            )
