"""`manage.py killswitch stop|cancel|flat|unlock|status --account NAME|--desk --reason "..." --user USERNAME`.

Thin: resolves the account, the user and (for cancel / flat) the broker factory named by
`settings.TRADING_BROKER_FACTORY`, then calls the apps.live services, which check permission."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from apps.core.statemachine import TransitionError
from apps.live import services
from apps.live.clock import ClockError, market_now
from apps.live.selectors import killswitch_effective
from apps.live.services import switch_for
from apps.trading.models import TradingAccount

ACTIONS = ("stop", "cancel", "flat", "unlock", "status")


class Command(BaseCommand):
    help = "Press the kill switch of one trading account or of the whole desk (or show its state)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=ACTIONS)
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--account", help="trading account name")
        where.add_argument("--desk", action="store_true", help="the desk-wide switch")
        parser.add_argument("--reason", default="", help="why (required for every action but status)")
        parser.add_argument("--user", default="", help="the person pressing it (required but for status)")

    def handle(
        self, *args, action: str, account: str | None, desk: bool, reason: str, user: str, **kw
    ) -> None:
        acct = None
        if account:
            acct = TradingAccount.objects.filter(name=account).first()
            if acct is None:
                raise CommandError(f"no trading account named {account!r}")
        if action == "status":
            self._status(acct)
            return
        person = get_user_model().objects.filter(username=user).first()
        if person is None:
            raise CommandError(f"--user: no user named {user!r}")
        try:
            if action == "stop":
                out = services.killswitch_stop(by=person, account=acct, reason=reason)
            elif action == "unlock":
                out = services.killswitch_unlock(by=person, account=acct, reason=reason)
            elif action == "cancel":
                out = services.killswitch_cancel(
                    by=person, account=acct, broker_for=self._brokers(), reason=reason
                )
            else:
                out = services.killswitch_flat(
                    by=person, account=acct, broker_for=self._brokers(), reason=reason
                )
        except (PermissionDenied, TransitionError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(str(out))
        self._status(acct)

    def _brokers(self):
        if not settings.TRADING_BROKER_FACTORY:
            raise CommandError(
                "cancel / flat need a broker: set TRADING_BROKER_FACTORY to a (account) -> Broker callable"
            )
        # Asked before anything is pressed: a venue clock that cannot answer (a replay no cycle has
        # run on yet) would otherwise fail FLAT half-way, its switch left flattening.
        try:
            market_now()
        except ClockError as exc:
            raise CommandError(f"cancel / flat need the desk's market clock: {exc}") from exc
        return import_string(settings.TRADING_BROKER_FACTORY)

    def _status(self, acct: TradingAccount | None) -> None:
        if acct is None:
            state = {"desk": switch_for(account=None).state}
        else:
            eff = killswitch_effective(account=acct)
            state = {
                "account": eff.account,
                "state": eff.state,
                "account_state": eff.account_state,
                "desk_state": eff.desk_state,
            }
        self.stdout.write(json.dumps(state))
