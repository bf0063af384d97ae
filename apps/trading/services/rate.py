"""The per-account message-rate limit, enforced atomically in the database (works on PostgreSQL
and on SQLite for the demo, with no Redis): a fixed one-minute window per account, spent by a
compare-and-set UPDATE (`WHERE count = <count read>`), the Healthchecks claim shape. Two workers
racing for the last messages of a minute: one UPDATE matches, the other re-reads and gets what
is left."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction

from apps.trading.models import MessageWindow, TradingAccount


def message_take(*, account: TradingAccount, limit: int, now: dt.datetime, n: int = 1) -> int:
    """Spend up to `n` messages of the account's current minute; returns how many were granted
    (0 when `limit` are already spent)."""
    minute = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
    window = MessageWindow.objects.filter(account=account, minute=minute)
    if not window.exists():
        try:
            with transaction.atomic():
                MessageWindow.objects.create(account=account, minute=minute, count=0)
        except IntegrityError:
            pass  # another worker opened the window first
    while True:
        count = window.values_list("count", flat=True).get()
        granted = min(n, limit - count)
        if granted <= 0:
            return 0
        if window.filter(count=count).update(count=count + granted) == 1:
            return granted
