"""A risk officer changes an account's pre-trade limits; every change is validated and audited
(who, when, old -> new, why) and bumps the version that orders record."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from apps.trading import permissions
from apps.trading.controls import Limits
from apps.trading.models import RiskLimits, RiskLimitsChange, TradingAccount


def risk_limits_update(*, by, account: TradingAccount, changes: dict[str, Any], reason: str) -> RiskLimits:
    """Apply `changes` (limit name -> value; None returns that limit to the desk default)."""
    permissions.require(by, permissions.CHANGE_LIMITS, "change risk limits", system_allowed=False)
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("a risk limit change needs a reason")
    defaults = settings.TRADING_RISK_DEFAULTS
    unknown = set(changes) - set(defaults)
    if unknown:
        raise ValueError(f"unknown risk limits {sorted(unknown)}; known: {sorted(defaults)}")
    with transaction.atomic():
        row, _ = RiskLimits.objects.select_for_update().get_or_create(account=account)
        old = Limits.from_mapping({**defaults, **row.overrides})
        overrides = {**row.overrides, **changes}
        overrides = {k: v for k, v in overrides.items() if v is not None}
        new = Limits.from_mapping({**defaults, **overrides})  # raises ValueError naming the bad limit
        stored = {k: new.as_json()[k] for k in overrides}
        row.overrides = stored
        row.version += 1
        row.save(update_fields=["overrides", "version", "updated_at"])
        RiskLimitsChange.objects.create(
            account=account,
            version=row.version,
            old=old.as_json(),
            new=new.as_json(),
            changed_by=by,
            reason=reason,
        )
    return row
