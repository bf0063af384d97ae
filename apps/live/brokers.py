"""`broker_for(account)`: the broker an account trades through (settings.TRADING_BROKER_FACTORY).

- paper accounts: the desk's simulated venue (apps.paper), one venue account per trading account,
  named like it (`paper_account_open` creates both), on the desk's market clock;
- alpaca accounts: Alpaca's paper or live endpoint by the account's endpoint, credentials from the
  environment or the secrets file it names (never the database).
"""

from __future__ import annotations

from apps.paper.models import VenueAccount
from apps.trading.brokers.alpaca import AlpacaBroker
from apps.trading.brokers.alpaca.credentials import credentials_from_env
from apps.trading.brokers.base import Broker
from apps.trading.brokers.paper import PaperBroker
from apps.trading.models import BrokerKind, Endpoint, TradingAccount

from .clock import market_now


class NoVenue(LookupError):
    """A paper account without its venue account (named)."""


def venue_for(account: TradingAccount) -> VenueAccount:
    venue = VenueAccount.objects.filter(name=account.name).first()
    if venue is None:
        raise NoVenue(f"paper account {account.name} has no venue account of the same name")
    return venue


def broker_for(account: TradingAccount, *, clock=None) -> Broker:
    if account.broker_kind == BrokerKind.PAPER:
        return PaperBroker(venue_for(account), clock=clock or market_now)
    return AlpacaBroker(credentials=credentials_from_env(), paper=account.endpoint == Endpoint.PAPER)
