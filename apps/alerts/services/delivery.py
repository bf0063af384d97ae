"""One attempt of one delivery, as the `alert_deliver` task makes it (the task takes the delivery
id and calls `delivery_attempt`; the retry policy and its bound live here, on the database rows,
so a re-delivered or duplicated task message never sends more than the bound allows).

Each attempt is claimed first (a conditional UPDATE of `attempts` from the number read), so two
copies of the task never send the same attempt; the outcome is an append-only DeliveryAttempt row.
The last allowed failure moves the delivery to `failed`, a success to `delivered`
(DELIVERY_MACHINE); a delivery that is no longer pending is left alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.alerts import channels
from apps.alerts.models import AlertDelivery, DeliveryAttempt, DeliveryStatus
from apps.alerts.states import DELIVERY_MACHINE

log = logging.getLogger(__name__)


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
    ).update(attempts=number)
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
        DeliveryAttempt.objects.create(
            delivery=delivery, number=number, ok=False, error=error, http_status=http_status
        )
        return Outcome("retry", retry_in_s=backoff_s(number))
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

    with transaction.atomic():
        DELIVERY_MACHINE.apply(delivery, event, record=record, finished_at=timezone.now())
