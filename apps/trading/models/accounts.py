"""Trading accounts, the model versions they trade, their risk limits (with an append-only change
log) and the message-rate counter.

What the database guarantees (see migration 0002 for the SQL):
- an account's broker kind and endpoint are valid words (check constraints);
- a link row (AccountModelVersion) stores its account's endpoint, and that copy can never differ
  from the account's: on PostgreSQL a composite FOREIGN KEY (account_id, endpoint) ->
  (id, endpoint), on SQLite triggers; both also refuse changing the endpoint of an account that
  has links (an account never moves between paper and live under its versions);
- one link per (account, version).
What only the services guarantee: that a version in stage `paper` is linked to paper accounts and
one in `live` to live accounts (`account_version_link`), and that an order is only created for a
version whose CURRENT stage matches the account's endpoint (`order_create` refuses it with
`version_not_tradable`). The stage lives on strategies.ModelVersion and changes over time; a
cross-table trigger on another app's table would hide this rule where nobody looks for it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.statemachine import AppendOnlyModel


class BrokerKind(models.TextChoices):
    PAPER = "paper", "paper (the desk's own simulator)"
    ALPACA = "alpaca", "Alpaca"


class Endpoint(models.TextChoices):
    PAPER = "paper", "paper"
    LIVE = "live", "live"


class TradingAccount(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    broker_kind = models.CharField(max_length=16, choices=BrokerKind.choices)
    endpoint = models.CharField(max_length=8, choices=Endpoint.choices)
    base_currency = models.CharField(max_length=3, default="USD")
    starting_cash = models.DecimalField(max_digits=18, decimal_places=2)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(broker_kind__in=BrokerKind.values), name="tradingaccount_broker_valid"
            ),
            models.CheckConstraint(
                condition=Q(endpoint__in=Endpoint.values), name="tradingaccount_endpoint_valid"
            ),
            # Our own paper simulator has no live endpoint.
            models.CheckConstraint(
                condition=~Q(broker_kind=BrokerKind.PAPER) | Q(endpoint=Endpoint.PAPER),
                name="tradingaccount_paper_broker_paper_endpoint",
            ),
            models.CheckConstraint(
                condition=Q(starting_cash__gt=0), name="tradingaccount_starting_cash_positive"
            ),
            # The target of the link rows' composite foreign key (id, endpoint).
            models.UniqueConstraint(fields=["id", "endpoint"], name="tradingaccount_id_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.broker_kind}/{self.endpoint})"


class AccountModelVersion(models.Model):
    """The strategy model version an account trades (one active link per account)."""

    account = models.ForeignKey(TradingAccount, on_delete=models.PROTECT, related_name="version_links")
    model_version = models.ForeignKey(
        "strategies.ModelVersion", on_delete=models.PROTECT, related_name="account_links"
    )
    endpoint = models.CharField(max_length=8, choices=Endpoint.choices)  # = account.endpoint (see above)
    active = models.BooleanField(default=True)
    linked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account_id", "-linked_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(endpoint__in=Endpoint.values), name="accountversion_endpoint_valid"
            ),
            models.UniqueConstraint(fields=["account", "model_version"], name="accountversion_unique"),
            models.UniqueConstraint(
                fields=["account"], condition=Q(active=True), name="accountversion_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account.name} <- {self.model_version}"


class RiskLimits(models.Model):
    """An account's overrides of `settings.TRADING_RISK_DEFAULTS` (keys absent = the default), and
    the version the controls record on every order they pass or refuse."""

    account = models.OneToOneField(TradingAccount, on_delete=models.PROTECT, related_name="risk_limits")
    overrides = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "risk limits"

    def __str__(self) -> str:
        return f"{self.account.name} limits v{self.version}"


class RiskLimitsChange(AppendOnlyModel):
    """Audit of every change to an account's limits: who, when, old -> new, why."""

    account = models.ForeignKey(TradingAccount, on_delete=models.PROTECT, related_name="risk_limit_changes")
    version = models.PositiveIntegerField()  # the RiskLimits.version this change produced
    old = models.JSONField()  # effective limits before
    new = models.JSONField()  # effective limits after
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField()

    class Meta:
        ordering = ["account_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["account", "version"], name="risklimitschange_unique_version")
        ]


class MessageWindow(models.Model):
    """Messages (order submissions) an account has sent in one UTC minute. Incremented by a
    conditional UPDATE (`count < limit`), which is atomic on PostgreSQL and SQLite alike: two
    workers can never both take the last message of a minute."""

    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "minute"], name="messagewindow_unique_minute")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.minute:%Y-%m-%d %H:%M}: {self.count}"
