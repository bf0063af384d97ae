"""The one-process desk: a Celery worker and beat running as threads beside the web server.

Used by `manage.py rundesk` when no REDIS_URL is configured (the in-memory broker only reaches
consumers inside the same process). With Redis, run `celery -A workers worker` and
`celery -A workers beat` as their own processes instead (`make up`).
"""

from __future__ import annotations

import logging
import threading

from celery import Celery
from celery.beat import EmbeddedService

log = logging.getLogger(__name__)


def start_embedded_worker(app: Celery, *, queues: list[str], concurrency: int = 2) -> threading.Thread:
    """Start a worker consuming `queues` in a daemon thread and return the thread."""
    app.conf.broker_transport_options = {"polling_interval": 0.2}
    worker = app.WorkController(
        pool_cls="threads",
        concurrency=concurrency,
        queues=queues,
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        hostname="embedded@hourglass",
        loglevel="INFO",
    )
    thread = threading.Thread(target=worker.start, name="celery-worker", daemon=True)
    thread.start()
    # celery.signals.worker_ready is only sent by the standalone worker; announce ourselves here.
    app.send_task("apps.core.tasks.worker_heartbeat")
    log.info("embedded celery worker started on queues %s", ",".join(queues))
    return thread


def start_embedded_beat(app: Celery) -> EmbeddedService:
    """Start celery beat (database scheduler) in a daemon thread."""
    beat = EmbeddedService(app, thread=True, scheduler_cls=app.conf.beat_scheduler)
    beat.daemon = True
    beat.start()
    log.info("embedded celery beat started")
    return beat
