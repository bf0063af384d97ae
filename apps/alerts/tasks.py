"""Alert delivery on the `default` queue: a thin task that takes the delivery id and lets the
service make one attempt; a failed attempt is retried after the service's backoff. The bound on
attempts is kept on the delivery row (services.delivery); Celery's own max_retries is the same
bound, as a second fence. Beat runs `alert_deliveries_sweep` for messages that were lost."""

from celery import shared_task
from django.conf import settings

from .services import deliveries_sweep, delivery_attempt
from .services.delivery import ATTEMPT_LEASE_S, DELIVER_TASK


@shared_task(
    name=DELIVER_TASK,
    bind=True,
    queue="default",
    acks_late=True,
    ignore_result=True,
    max_retries=settings.ALERT_DELIVERY_MAX_ATTEMPTS,
    soft_time_limit=ATTEMPT_LEASE_S - 30,
    time_limit=ATTEMPT_LEASE_S,
)
def alert_deliver(self, delivery_id: int) -> str:
    outcome = delivery_attempt(delivery_id=delivery_id)
    if outcome.status == "retry":
        raise self.retry(countdown=outcome.retry_in_s)
    return outcome.status


@shared_task(queue="default", ignore_result=True, soft_time_limit=30, time_limit=45)
def alert_deliveries_sweep() -> int:
    """Beat: send again the pending deliveries whose task message was lost."""
    return len(deliveries_sweep())
