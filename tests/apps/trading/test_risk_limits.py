"""Per-account risk limits: only a risk officer changes them; each change is validated, bumps the
version and appends an audit row (who, when, old -> new, why); the message-rate window; account
opening and version links (stage must match the endpoint)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from apps.strategies.models import Stage
from apps.trading.models import RiskLimitsChange
from apps.trading.selectors import risk_limits_effective
from apps.trading.services import (
    VersionNotTradable,
    account_version_link,
    message_take,
    risk_limits_update,
    trading_account_create,
)
from tests.apps.strategies.conftest import make_strategy, make_version

pytestmark = pytest.mark.django_db


def test_risk_officer_changes_a_limit_and_it_is_audited(account, people):
    before, v1 = risk_limits_effective(account=account)
    row = risk_limits_update(
        by=people["rita"], account=account, changes={"max_order_qty": "500"}, reason="new name"
    )
    after, v2 = risk_limits_effective(account=account)
    assert (v1, v2, row.version) == (1, 2, 2)
    assert after.max_order_qty == Decimal(500) and before.max_order_qty != after.max_order_qty
    change = RiskLimitsChange.objects.get()
    assert (change.changed_by, change.reason, change.version) == (people["rita"], "new name", 2)
    assert change.old["max_order_qty"] == str(before.max_order_qty) and change.new["max_order_qty"] == "500"


def test_none_returns_a_limit_to_the_default(account, people, settings):
    risk_limits_update(by=people["rita"], account=account, changes={"max_order_qty": "500"}, reason="a")
    risk_limits_update(by=people["rita"], account=account, changes={"max_order_qty": None}, reason="b")
    limits, version = risk_limits_effective(account=account)
    assert limits.max_order_qty == Decimal(settings.TRADING_RISK_DEFAULTS["max_order_qty"]) and version == 3


@pytest.mark.parametrize("who", ["alice", "victor", "quinn", "bob"])
def test_only_risk_officers_change_limits(account, people, who):
    with pytest.raises(PermissionDenied):
        risk_limits_update(by=people[who], account=account, changes={"max_order_qty": 1}, reason="x")
    assert not RiskLimitsChange.objects.exists()


@pytest.mark.parametrize(
    "changes, reason, message",
    [
        ({"max_order_qty": "-1"}, "x", "max_order_qty"),
        ({"max_position_weight": "2"}, "x", "max_position_weight"),
        ({"no_such_limit": 1}, "x", "unknown"),
        ({"max_order_qty": 1}, "  ", "reason"),
    ],
)
def test_bad_changes_are_refused_and_nothing_is_written(account, people, changes, reason, message):
    with pytest.raises(ValueError, match=message):
        risk_limits_update(by=people["rita"], account=account, changes=changes, reason=reason)
    assert risk_limits_effective(account=account)[1] == 1 and not RiskLimitsChange.objects.exists()


@pytest.mark.parametrize("limit", [1, 3])
def test_message_window_allows_exactly_the_limit_per_minute(account, limit):
    now = dt.datetime(2025, 10, 1, 14, 0, 5, tzinfo=dt.UTC)
    taken = [message_take(account=account, limit=limit, now=now) for _ in range(limit + 1)]
    assert taken == [1] * limit + [0]
    assert message_take(account=account, limit=limit, now=now + dt.timedelta(minutes=1)) == 1  # next minute


def test_message_window_grants_what_is_left(account):
    now = dt.datetime(2025, 10, 1, 14, 0, tzinfo=dt.UTC)
    assert message_take(account=account, limit=5, now=now, n=3) == 3
    assert message_take(account=account, limit=5, now=now, n=3) == 2
    assert message_take(account=account, limit=5, now=now, n=1) == 0


def test_link_needs_matching_stage(people, account):
    research = make_version(make_strategy(people["quinn"], name="quinn-research"), people["quinn"])
    with pytest.raises(VersionNotTradable, match="paper"):
        account_version_link(by=people["ada"], account=account, version=research)
    live_account = trading_account_create(
        by=people["ada"], name="live-1", broker_kind="alpaca", endpoint="live", starting_cash=Decimal(10)
    )
    live = make_version(make_strategy(people["quinn"], name="quinn-live"), people["quinn"], stage=Stage.LIVE)
    paper = account.version_links.get().model_version
    with pytest.raises(VersionNotTradable):
        account_version_link(by=people["ada"], account=live_account, version=paper)
    assert account_version_link(by=people["ada"], account=live_account, version=live).endpoint == "live"


def test_relinking_moves_the_active_link(people, account):
    old = account.version_links.get()
    newer = make_version(old.model_version.strategy, people["quinn"], stage=Stage.PAPER)
    account_version_link(by=people["ada"], account=account, version=newer)
    assert list(account.version_links.filter(active=True).values_list("model_version", flat=True)) == [
        newer.pk
    ]


def test_only_admins_open_accounts(people):
    with pytest.raises(PermissionDenied):
        trading_account_create(
            by=people["alice"], name="a", broker_kind="paper", endpoint="paper", starting_cash=1
        )
    with pytest.raises(ValueError, match="starting cash"):
        trading_account_create(
            by=people["ada"], name="a", broker_kind="paper", endpoint="paper", starting_cash=0
        )
