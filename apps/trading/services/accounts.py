"""Opening trading accounts and linking the model version each one trades."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from apps.strategies.models import ModelVersion, Stage
from apps.trading import permissions
from apps.trading.models import AccountModelVersion, BrokerKind, Endpoint, RiskLimits, TradingAccount

from .errors import VersionNotTradable

# The stage a version must be in to trade on an endpoint (and nothing else may).
STAGE_FOR_ENDPOINT = {Endpoint.PAPER: Stage.PAPER, Endpoint.LIVE: Stage.LIVE}


def version_tradable_on(*, version: ModelVersion, endpoint: str) -> bool:
    return STAGE_FOR_ENDPOINT[Endpoint(endpoint)] == version.stage


def trading_account_create(
    *,
    by,
    name: str,
    broker_kind: str,
    endpoint: str,
    starting_cash: Decimal,
    base_currency: str = "USD",
) -> TradingAccount:
    permissions.require(by, permissions.OPEN_ACCOUNT, "open trading accounts", system_allowed=False)
    if broker_kind not in BrokerKind.values or endpoint not in Endpoint.values:
        raise ValueError(
            f"broker kind {broker_kind!r} / endpoint {endpoint!r}: use {BrokerKind.values} / {Endpoint.values}"
        )
    cash = Decimal(starting_cash)
    if not cash.is_finite() or cash <= 0:
        raise ValueError(f"starting cash must be a positive amount, not {starting_cash!r}")
    with transaction.atomic():
        account = TradingAccount.objects.create(
            name=name,
            broker_kind=broker_kind,
            endpoint=endpoint,
            base_currency=base_currency.upper(),
            starting_cash=cash,
            created_by=by,
        )
        RiskLimits.objects.create(account=account)
    return account


def account_version_link(*, by, account: TradingAccount, version: ModelVersion) -> AccountModelVersion:
    """Make `version` the one the account trades (the previous link, if any, is deactivated).
    A paper-stage version trades paper accounts only, a live one live accounts only."""
    permissions.require(by, permissions.LINK_VERSION, "link model versions to accounts", system_allowed=False)
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if not version_tradable_on(version=version, endpoint=account.endpoint):
            raise VersionNotTradable(
                f"{version} is in stage {version.stage!r}: a {account.endpoint} account trades only "
                f"{STAGE_FOR_ENDPOINT[Endpoint(account.endpoint)]!r} versions"
            )
        AccountModelVersion.objects.filter(account=account, active=True).exclude(
            model_version=version
        ).update(active=False)
        link, created = AccountModelVersion.objects.get_or_create(
            account=account,
            model_version=version,
            defaults={"endpoint": account.endpoint, "linked_by": by},
        )
        if not created and not link.active:
            AccountModelVersion.objects.filter(pk=link.pk).update(active=True)
            link.active = True
    return link
