"""Live desk tasks, thin: they take ids, re-read the rows and call the services.

Queues (workers/celery.py): the cycles run on `live` (more worker processes or machines on that
queue run more accounts at once; the account's cycle lock keeps one account's cycles one at a
time), kill switch presses on `control`, which no cycle ever occupies, so a STOP never waits behind
a running cycle. Every task is acks_late with reject_on_worker_lost (settings), prefetch 1: a
worker killed mid-cycle leaves its message to be redelivered, and the CycleRun it left `running`
is taken over (`resume`) by the next holder of the account's lock.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import OperationalError
from django.utils.module_loading import import_string

from apps.trading.models import TradingAccount

from .cycle.due import cycles_due
from .cycle.run import CycleBusy, cycle_run
from .services import (
    accounts_reconcile,
    killswitch_cancel,
    killswitch_flat,
    killswitch_stop,
    killswitch_unlock,
)

log = logging.getLogger(__name__)

BUSY_COUNTDOWN_S = 5
BUSY_RETRIES = 60  # an account busy for 5 minutes is past the cycle's own time limit


@shared_task(ignore_result=True, soft_time_limit=30, time_limit=60)
def live_cycles_due() -> int:
    """Beat, at every bar close (and as a sweep): enqueue the cycles due at the last bar close."""
    due = cycles_due()
    for item in due:
        live_cycle.delay(item.account_id, item.bar_time.isoformat(), "beat")
    return len(due)


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=BUSY_RETRIES + settings.LIVE_CYCLE_MAX_ATTEMPTS,
    soft_time_limit=settings.LIVE_CYCLE_SOFT_TIME_LIMIT,
    time_limit=settings.LIVE_CYCLE_TIME_LIMIT,
)
def live_cycle(self, account_id: int, bar_time: str, trigger: str = "beat") -> str:
    """One account's cycle at one bar (idempotent: a second delivery finds the CycleRun)."""
    account = TradingAccount.objects.get(pk=account_id)
    try:
        run = cycle_run(account=account, bar_time=bar_time, trigger=trigger)
    except CycleBusy as exc:
        raise self.retry(exc=exc, countdown=BUSY_COUNTDOWN_S) from None
    except OperationalError as exc:  # the database blinked before the run was claimed
        raise self.retry(exc=exc, countdown=BUSY_COUNTDOWN_S) from None
    except Exception as exc:  # recorded on the run; bounded retries of the run itself
        from apps.live.models import CycleRun

        run = CycleRun.objects.filter(account_id=account_id, bar_time=bar_time).first()
        if run is not None and run.attempts < settings.LIVE_CYCLE_MAX_ATTEMPTS:
            raise self.retry(
                exc=exc, countdown=2**run.attempts, args=(account_id, bar_time, "retry")
            ) from None
        raise
    return run.status


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=180)
def live_reconcile_all(trigger: str = "startup") -> int:
    """Worker start: reconcile every trading account against its broker."""
    return len(accounts_reconcile(trigger=trigger))


_PRESSES = {"stop": killswitch_stop, "unlock": killswitch_unlock}
_BROKER_PRESSES = {"cancel": killswitch_cancel, "flat": killswitch_flat}


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180)
def killswitch_press(action: str, account_id: int | None, user_id: int, reason: str) -> str:
    """A kill switch press from a page or the API, on the `control` queue (the service checks the
    person's permission; account_id None = the desk)."""
    by = get_user_model().objects.get(pk=user_id)
    account = None if account_id is None else TradingAccount.objects.get(pk=account_id)
    if action in _PRESSES:
        return str(_PRESSES[action](by=by, account=account, reason=reason))
    service = _BROKER_PRESSES[action]
    return str(
        service(
            by=by, account=account, broker_for=import_string(settings.TRADING_BROKER_FACTORY), reason=reason
        )
    )
