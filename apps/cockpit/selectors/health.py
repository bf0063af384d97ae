"""The health block: database, broker connection (an unresolved broker_disconnected alert),
worker heartbeat (apps.core's probe, as /healthz), beat's last tick (django_celery_beat), data
age per frequency (the newest bar against the market clock's last bar close), the Celery queue
depths (Redis) and the last reconciliation. A fixed number of queries."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from apps.alerts.models import UNRESOLVED, Alert, AlertKind
from apps.cockpit.rows import health_block, when
from apps.core.selectors import _probe_database, _probe_worker
from apps.live.clock import ClockError, last_bar_close
from apps.live.models import Reconciliation
from apps.marketdata.models import Bar
from apps.trading.models import TradingAccount
from workers.engine.market import Frequency

# beat writes last_run_at every `sync_every` seconds; its most frequent task is the heartbeat.
BEAT_MAX_AGE_S = DatabaseScheduler.sync_every + settings.WORKER_HEARTBEAT_MAX_AGE_S


def _beat() -> tuple[bool, str]:
    last = PeriodicTask.objects.aggregate(t=Max("last_run_at"))["t"]
    if last is None:
        return False, "beat has not run a task yet"
    age = (timezone.now() - last).total_seconds()
    return age <= BEAT_MAX_AGE_S, f"last tick {age:.0f}s ago at {when(last)}"


def _data_age(frequencies: set[str]) -> tuple[bool, str]:
    ok, parts = True, []
    for freq in Frequency:
        newest = (
            Bar.objects.filter(frequency=freq.value).order_by("-ts").values_list("ts", "known_at").first()
        )
        if newest is None:
            if freq.value in frequencies:
                ok, parts = False, [*parts, f"{freq.value}: no bar"]
            continue
        ts, known_at = newest
        age = (timezone.now() - known_at).total_seconds()
        line = f"{freq.value}: newest bar {when(ts)}, known {age:.0f}s ago"
        if freq.value in frequencies:
            try:
                expected = last_bar_close(freq=freq.value)
            except ClockError:
                expected = None
            if expected is not None and ts < expected.to_pydatetime():
                ok, line = False, f"{line} (the bar of {when(expected.to_pydatetime())} is missing)"
        parts.append(line)
    return ok, "; ".join(parts) or "no bars"


@cache
def _redis(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def _queues() -> tuple[bool, str]:
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return True, "n/a (in-memory broker)"
    try:
        client = _redis(url)
        depths = [f"{name} {client.llen(name)}" for name in settings.CELERY_TASK_QUEUES_NAMES]
    except Exception as exc:  # noqa: BLE001 - an unreachable Redis is this check's answer
        return False, f"{type(exc).__name__}: {exc}"[:300]
    return True, ", ".join(depths)


def _broker(account: TradingAccount | None) -> tuple[bool, str]:
    qs = Alert.objects.filter(kind=AlertKind.BROKER_DISCONNECTED, status__in=UNRESOLVED)
    if account is not None:
        qs = qs.filter(account=account)
    names = sorted({a or "desk" for a in qs.values_list("account__name", flat=True)})
    if names:
        return False, f"disconnected: {', '.join(names)} (unresolved broker_disconnected alert)"
    return True, "connected (no broker_disconnected alert open)"


def _reconciliation(account: TradingAccount | None) -> tuple[bool, str]:
    """The last reconciliation of the account (None: of every account)."""
    if account is not None:
        rows = list(Reconciliation.objects.filter(account=account).order_by("-at", "-pk")[:1])
    else:
        last = (
            Reconciliation.objects.filter(account=OuterRef("account")).order_by("-at", "-pk").values("pk")[:1]
        )
        rows = list(Reconciliation.objects.filter(pk=Subquery(last)).select_related("account"))
    if not rows:
        return True, "none yet"
    breaks = [r for r in rows if not r.ok]
    if breaks:
        return False, "; ".join(f"{r.account.name}: {len(r.breaks)} break(s) at {when(r.at)}" for r in breaks)
    newest = max(rows, key=lambda r: r.at)
    return True, f"ok at {when(newest.at)}" + ("" if account else f" ({len(rows)} account(s))")


def health(*, account: TradingAccount | None, frequencies: set[str]) -> dict:
    """The health block of an account (None: the desk). `frequencies`: the bar frequencies traded
    (their newest bar must be the market clock's last bar)."""
    database = _probe_database()
    worker = _probe_worker(database.ok)
    return health_block(
        {
            "database": (database.ok, database.detail),
            "broker": _broker(account),
            "worker": (worker.ok, worker.detail),
            "beat": _beat(),
            "data_age_s": _data_age(frequencies),
            "queue_depth": _queues(),
            "last_reconciliation": _reconciliation(account),
        }
    )
