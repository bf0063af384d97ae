"""One attempt of one delivery, as the `alert_deliver` task makes it (the task takes the delivery
id and calls `delivery_attempt`; the retry policy and its bound live here, on the database rows,
so a re-delivered or duplicated task message never sends more than the bound allows).

Each attempt is claimed first (a conditional UPDATE of `attempts` from the number read), so two
copies of the task never send the same attempt; the outcome is an append-only DeliveryAttempt row.
The last allowed failure moves the delivery to `failed`, a success to `delivered`
(DELIVERY_MACHINE); a delivery that is no longer pending is left alone, and a message that arrives
before the attempt is due (a duplicate of a scheduled retry) is dropped. `deliveries_sweep` sends
again the pending deliveries whose message was lost (the broker was down at commit, a worker died
between an attempt and its retry): those overdue by more than ALERT_DELIVERY_SWEEP_GRACE_S.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.alerts import channels
from apps.alerts.models import AlertDelivery, DeliveryAttempt, DeliveryStatus
from apps.alerts.states import DELIVERY_MACHINE
from workers.celery import app as celery_app

log = logging.getLogger(__name__)

# A message this much ahead of the due time still counts as on time (clocks of two machines).
EARLY_TOLERANCE = dt.timedelta(seconds=1)
# An attempt in progress holds the delivery this long (the task's hard time limit): a duplicate
# message meanwhile finds it not yet due; if the worker dies, the sweep takes it up afterwards.
ATTEMPT_LEASE_S = 90
DELIVER_TASK = "apps.alerts.tasks.alert_deliver"  # on the default queue


@dataclass(frozen=True)
class Outcome:
    status: str  # "delivered", "retry", "failed" or "skipped" (not pending, unknown, or claimed elsewhere)
    retry_in_s: float | None = None  # set for "retry": wait this long before the next attempt


def backoff_s(attempt: int) -> float:
    """The wait after failed attempt number `attempt` (1-based): exponential, capped."""
    return min(settings.ALERT_DELIVERY_BACKOFF_S * 2 ** (attempt - 1), settings.ALERT_DELIVERY_BACKOFF_MAX_S)


def delivery_attempt(*, delivery_id: int) -> Outcome:
    delivery = AlertDelivery.objects.select_related("alert__account").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return Outcome("skipped")
    if delivery.next_attempt_at > timezone.now() + EARLY_TOLERANCE:
        return Outcome("skipped")  # the scheduled retry's message will make this attempt
    number = delivery.attempts + 1
    limit = settings.ALERT_DELIVERY_MAX_ATTEMPTS
    if number > limit:  # every allowed attempt was claimed (one by a worker that was lost)
        _finish(
            delivery,
            "give_up",
            number=delivery.attempts,
            ok=False,
            error="no attempts left (the last claimed attempt's worker was lost)",
        )
        return Outcome("failed")
    claimed = AlertDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts
    ).update(attempts=number, next_attempt_at=timezone.now() + dt.timedelta(seconds=ATTEMPT_LEASE_S))
    if not claimed:
        return Outcome("skipped")
    delivery.attempts = number
    try:
        http_status = channels.send(delivery.alert, delivery)
    except channels.SendFailed as exc:
        error, http_status = str(exc)[:2000], exc.http_status
        log.warning(
            "alert delivery %s (%s) attempt %s/%s failed: %s",
            delivery.pk,
            delivery.channel,
            number,
            limit,
            error,
        )
        if number >= limit:
            _finish(delivery, "give_up", number=number, ok=False, error=error, http_status=http_status)
            log.error(
                "alert delivery %s (%s) gave up after %s attempts", delivery.pk, delivery.channel, number
            )
            return Outcome("failed")
        wait = backoff_s(number)
        with transaction.atomic():
            DeliveryAttempt.objects.create(
                delivery=delivery, number=number, ok=False, error=error, http_status=http_status
            )
            AlertDelivery.objects.filter(pk=delivery.pk).update(
                next_attempt_at=timezone.now() + dt.timedelta(seconds=wait)
            )
        return Outcome("retry", retry_in_s=wait)
    _finish(delivery, "deliver", number=number, ok=True, http_status=http_status)
    return Outcome("delivered")


def _finish(
    delivery: AlertDelivery, event: str, *, number: int, ok: bool, error: str = "", http_status=None
) -> None:
    def record(_from: str, _to: str) -> None:
        if number and not DeliveryAttempt.objects.filter(delivery=delivery, number=number).exists():
            DeliveryAttempt.objects.create(
                delivery=delivery, number=number, ok=ok, error=error, http_status=http_status
            )

    DELIVERY_MACHINE.apply(delivery, event, record=record, finished_at=timezone.now())


def delivery_enqueue(delivery_id: int) -> None:
    """Send the delivery task now (callers do it after commit). By name: the task module imports
    the services, not the other way round."""
    celery_app.signature(DELIVER_TASK, args=(delivery_id,)).apply_async()


def deliveries_sweep() -> list[int]:
    """Enqueue (after commit) the pending deliveries overdue by more than the grace; their ids."""
    overdue = timezone.now() - dt.timedelta(seconds=settings.ALERT_DELIVERY_SWEEP_GRACE_S)
    ids = list(
        AlertDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lt=overdue)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for delivery_id in ids:
        log.warning("alert delivery %s is overdue (its task message was lost): sending it again", delivery_id)
        transaction.on_commit(lambda d=delivery_id: delivery_enqueue(d), robust=True)
    return ids
