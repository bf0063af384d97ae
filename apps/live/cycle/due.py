"""Which cycles are due: at the bar that closed last (apps.live.clock), one per account that
trades a version and has no CycleRun for that bar yet (or one whose worker died: still `running`
past the cycle's hard time limit). Only the latest bar is ever traded: bars the
desk slept through (workers down, beat stopped) are not traded late on stale prices, they are
reported as missed cycles (alert `cycle_missed`) once `LIVE_CYCLE_MISSED_AFTER_S` has passed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from apps.alerts.models import AlertKind, Severity
from apps.alerts.services import alert_raise
from apps.live.clock import last_bar_close, replay_mode
from apps.live.models import CycleRun
from apps.trading.models import AccountModelVersion, TradingAccount
from workers.engine.calendar import bar_ends

from .machine import CycleStatus


@dataclass(frozen=True)
class Due:
    account_id: int
    bar_time: dt.datetime


def trading_accounts() -> list[TradingAccount]:
    ids = AccountModelVersion.objects.filter(active=True).values_list("account_id", flat=True)
    return list(TradingAccount.objects.filter(pk__in=ids).order_by("pk"))


def cycles_due(*, now: dt.datetime | None = None) -> list[Due]:
    bar = last_bar_close(now)
    if bar is None:
        return []
    bar_time = bar.to_pydatetime()
    now = now or timezone.now()
    accounts = trading_accounts()
    runs = CycleRun.objects.filter(account__in=accounts, bar_time=bar_time)
    # A run still `running` past the cycle's hard time limit has lost its worker (the limit
    # would have killed a live one): enqueue it again at once instead of waiting for the broker
    # to redeliver its message (Redis: the visibility timeout, an hour); the claim takes it over.
    stuck_before = now - dt.timedelta(seconds=settings.LIVE_CYCLE_TIME_LIMIT)
    done = set(
        runs.exclude(status=CycleStatus.RUNNING, started_at__lt=stuck_before).values_list(
            "account_id", flat=True
        )
    )
    _missed(accounts=accounts, bar_time=bar_time, now=now)
    return [Due(a.pk, bar_time) for a in accounts if a.pk not in done]


def _missed(*, accounts: list[TradingAccount], bar_time: dt.datetime, now: dt.datetime) -> None:
    """Alert the bars between an account's last cycle and `bar_time` that never ran (wall clock
    only: the replay delivers every bar), and `bar_time` itself once it is overdue."""
    if replay_mode():
        return
    last = dict(
        CycleRun.objects.filter(account__in=accounts)
        .values("account_id")
        .annotate(last=Max("bar_time"))
        .values_list("account_id", "last")
    )
    late = (now - bar_time).total_seconds() > settings.LIVE_CYCLE_MISSED_AFTER_S
    for account in accounts:
        previous = last.get(account.pk)
        if previous is None:
            continue
        gap = [ts for ts in bar_ends(previous, bar_time) if previous < ts.to_pydatetime() < bar_time]
        if late and previous < bar_time:
            gap.append(pd.Timestamp(bar_time))
        if gap:
            alert_raise(
                kind=AlertKind.CYCLE_MISSED,
                severity=Severity.CRITICAL,
                message=f"{account.name}: {len(gap)} bar close(s) without a cycle, the last "
                f"{gap[-1]:%Y-%m-%d %H:%M} UTC",
                account=account,
                details={"bars": [ts.isoformat() for ts in gap[-20:]]},
                dedup_key=f"cycle_missed:{account.pk}",
            )
