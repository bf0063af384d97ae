"""Opening a paper trading account on the desk's simulated venue."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from apps.paper.services import venue_account_create
from apps.strategies.models import ModelVersion
from apps.trading.controls import WHOLE_SHARES
from apps.trading.models import BrokerKind, Endpoint, TradingAccount
from apps.trading.services import account_version_link, trading_account_create
from workers.engine.decide.configs import backtest_config


def paper_account_open(*, by, name: str, starting_cash: Decimal, version: ModelVersion) -> TradingAccount:
    """A paper trading account, its venue account (same name, same cash, filling with the
    version's own cost model and participation cap, in whole shares as the desk trades: paper
    fills are the backtest's) and its link to `version` (which must be in stage paper). One transaction."""
    with transaction.atomic():
        account = trading_account_create(
            by=by,
            name=name,
            broker_kind=BrokerKind.PAPER,
            endpoint=Endpoint.PAPER,
            starting_cash=starting_cash,
        )
        venue_account_create(
            name=account.name,
            cash=account.starting_cash,
            backtest=backtest_config(version.config, integer_shares=WHOLE_SHARES),
            frequency=version.strategy.frequency,
        )
        account_version_link(by=by, account=account, version=version)
    return account
