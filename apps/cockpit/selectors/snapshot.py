"""The snapshot of one account (what the cockpit's page renders and resyncs from) and the desk
overview. The snapshot is read in ONE transaction, its stream numbers first: on PostgreSQL at
REPEATABLE READ (every query sees the same committed state), on SQLite the transaction's read
snapshot; so it is exactly the state after message `seq` of the account's stream."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from apps.cockpit import permissions
from apps.cockpit.rows import decimal, when
from apps.core.realtime import DESK_STREAM, account_stream, stream_seq
from apps.trading.models import AccountModelVersion, TradingAccount
from workers.engine.market import Frequency

from .book import account_marked, valuation_time
from .health import health
from .series import account_series
from .tables import (
    active_link,
    kill_switch,
    model_block,
    open_alerts,
    open_orders,
    recent_cycles,
    recent_fills,
    recent_reconciliations,
)


def _consistent_read() -> None:
    """First statement of the snapshot's transaction (PostgreSQL: one snapshot for all queries)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")


def account_info(account: TradingAccount) -> dict:
    return {
        "name": account.name,
        "broker_kind": account.broker_kind,
        "endpoint": account.endpoint,
        "base_currency": account.base_currency,
        "starting_cash": decimal(account.starting_cash),
        "stream": account_stream(account.pk),
    }


def account_snapshot(*, account: TradingAccount, user) -> dict:
    """Everything the account's page shows, consistent with `seq` (a fixed number of queries)."""
    can = permissions.buttons(user)  # the user's permissions, read before the transaction
    outer = connection.in_atomic_block  # inside an outer transaction (a test): its level stands
    with transaction.atomic():
        if not outer:
            _consistent_read()
        stream = account_stream(account.pk)
        seqs = {stream: stream_seq(stream), DESK_STREAM: stream_seq(DESK_STREAM)}
        link = active_link(account=account)
        frequency = link.model_version.strategy.frequency if link else Frequency.HOUR.value
        as_of = valuation_time()
        marked = account_marked(account=account, frequency=frequency, as_of=as_of)
        return {
            "account": account_info(account),
            "seq": seqs[stream],
            "seqs": seqs,
            "as_of": when(timezone.now()),
            "headline": marked.headline,
            "kill_switch": kill_switch(account=account),
            "positions": marked.positions,
            "open_orders": open_orders(account=account),
            "fills": recent_fills(account=account),
            "cycles": recent_cycles(account=account),
            "reconciliations": recent_reconciliations(account=account),
            "series": account_series(marked=marked, starting_cash=account.starting_cash, frequency=frequency),
            "health": health(account=account, frequencies={frequency}),
            "alerts": open_alerts(account=account),
            "model": model_block(link=link),
            "can": can,
        }


def desk_overview(*, user) -> dict:
    """Every account's headline and kill switch, the desk switch and the desk's health (a few
    queries per account), with the desk stream's number."""
    with transaction.atomic():
        seq = stream_seq(DESK_STREAM)
        links = {
            link.account_id: link
            for link in AccountModelVersion.objects.filter(active=True).select_related(
                "model_version__strategy"
            )
        }
        as_of = valuation_time()
        accounts = []
        for account in TradingAccount.objects.order_by("name"):
            link = links.get(account.pk)
            frequency = link.model_version.strategy.frequency if link else Frequency.HOUR.value
            accounts.append(
                {
                    "account": account_info(account),
                    "headline": account_marked(account=account, frequency=frequency, as_of=as_of).headline,
                    "kill_switch": kill_switch(account=account),
                    "model": model_block(link=link),
                }
            )
        frequencies = {link.model_version.strategy.frequency for link in links.values()}
        return {
            "seq": seq,
            "seqs": {DESK_STREAM: seq},
            "as_of": when(timezone.now()),
            "kill_switch": kill_switch(account=None),
            "accounts": accounts,
            "health": health(account=None, frequencies=frequencies or {Frequency.HOUR.value}),
            "alerts": open_alerts(account=None),
            "can": permissions.buttons(user),
        }
