"""The per-account message-rate limit, enforced atomically in the database (works on PostgreSQL
and on SQLite for the demo, with no Redis): a fixed one-minute window per account, taken by a
conditional UPDATE (`count < limit`), the Healthchecks claim shape. Two workers racing for the
last message of a minute: exactly one UPDATE matches."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import F

from apps.trading.models import MessageWindow, TradingAccount


def message_take(*, account: TradingAccount, limit: int, now: dt.datetime) -> bool:
    """Spend one message of the account's current minute; False when `limit` are already spent."""
    minute = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
    if not MessageWindow.objects.filter(account=account, minute=minute).exists():
        try:
            with transaction.atomic():
                MessageWindow.objects.create(account=account, minute=minute, count=0)
        except IntegrityError:
            pass  # another worker opened the window first
    return (
        MessageWindow.objects.filter(account=account, minute=minute, count__lt=limit).update(
            count=F("count") + 1
        )
        == 1
    )
