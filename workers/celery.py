"""The Celery app: configuration from Django settings (CELERY_*), tasks discovered in each app's
tasks.py, one queue per kind of work, beat schedule installed from settings."""

import os

from celery import Celery
from celery.signals import worker_ready
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradingsite.settings")

app = Celery("hourglass")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _configure_queues(sender: Celery, **_: object) -> None:
    from django.conf import settings

    sender.conf.task_queues = [Queue(name) for name in settings.CELERY_TASK_QUEUES_NAMES]
    # Routing by task module: research jobs never share a queue with the live cycle.
    # The research reaper is housekeeping: it must run even when every research slot is busy.
    sender.conf.task_routes = {
        "apps.research.tasks.research_jobs_reap": {"queue": "default"},
        "apps.research.tasks.*": {"queue": "research"},
        "apps.live.tasks.killswitch_press": {"queue": "control"},
        "apps.live.tasks.live_cycles_due": {"queue": "default"},
        "apps.live.tasks.*": {"queue": "live"},
    }


@worker_ready.connect
def _on_worker_ready(**_: object) -> None:
    # A worker's first heartbeat goes out as soon as it consumes, not at the first beat tick.
    app.send_task("apps.core.tasks.worker_heartbeat")
    # Reconcile every account before the next cycle (routed to `live`; repeating it is harmless).
    app.send_task("apps.live.tasks.live_reconcile_all", args=("startup",))
