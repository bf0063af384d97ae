"""`manage.py trade_updates --account NAME [--url WSS_URL]`: run Alpaca's trade_updates stream for
one Alpaca account until SIGINT / SIGTERM (apps.live.stream.TradeUpdatesRunner: every update
through the order services, a REST reconciliation after every (re)connect, an alert on each drop).

Thin: resolves the account, its REST broker (`settings.TRADING_BROKER_FACTORY`) and the key pair
(environment or secrets file, apps.trading.brokers.alpaca.credentials), then runs the runner."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from apps.live.stream import TradeUpdatesRunner
from apps.trading.brokers.alpaca import CredentialsMissing, StreamUnauthorized, credentials_from_env
from apps.trading.models import BrokerKind, TradingAccount


class Command(BaseCommand):
    help = "Run the trade_updates stream of one Alpaca trading account (reconciling after every connect)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--account", required=True, help="trading account name (an Alpaca account)")
        parser.add_argument("--url", default=None, help="stream URL (default: the account's endpoint's)")

    def handle(self, *args, account: str, url: str | None, **kw) -> None:
        acct = TradingAccount.objects.filter(name=account).first()
        if acct is None:
            raise CommandError(f"no trading account named {account!r}")
        if acct.broker_kind != BrokerKind.ALPACA:
            raise CommandError(
                f"{acct.name} is a {acct.broker_kind} account: trade_updates is Alpaca's stream"
            )
        try:
            credentials = credentials_from_env()
        except CredentialsMissing as exc:
            raise CommandError(str(exc)) from exc
        broker = import_string(settings.TRADING_BROKER_FACTORY)(acct)
        runner = TradeUpdatesRunner(account=acct, broker=broker, credentials=credentials, url=url)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: runner.stop())
        self.stdout.write(f"{runner}: running (stop with SIGINT / SIGTERM)")
        try:
            runner.run()
        except StreamUnauthorized as exc:
            raise CommandError(str(exc)) from exc
        finally:
            close = getattr(broker, "close", None)
            if callable(close):
                close()
        self.stdout.write(f"{runner}: stopped ({runner.applied} updates applied, {runner.skipped} skipped)")
