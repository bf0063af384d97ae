"""Celery (broker, queues, beat) and the Channels layer.

Embedded defaults (no REDIS_URL): an in-memory broker with the worker and beat running as threads
of the web process (see workers/embedded.py) and an in-memory channel layer. With REDIS_URL:
Redis carries both, and web, worker and beat run as separate processes.
"""

from .desk import RESEARCH_JOB_LEASE_S
from .env import REDIS_URL, env

CELERY_EMBEDDED = not REDIS_URL
# "memory://localhost/", not "memory://": without a host kombu logs "No hostname was supplied"
# each time a connection is made (every beat tick and heartbeat on a quiet demo desk).
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# One queue per kind of work, so a long backtest never delays the live cycle.
CELERY_TASK_QUEUES_NAMES = ["default", "research", "live"]
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=3600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3900)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Research jobs (backtests, training, search children): soft limit raises inside the task so it
# records "failed: time limit"; the hard limit kills it. Enforced by the prefork pool (`make up`);
# the embedded demo's thread pool cannot interrupt a running thread.
RESEARCH_TASK_SOFT_TIME_LIMIT = env.int("RESEARCH_TASK_SOFT_TIME_LIMIT", default=3 * 3600)
RESEARCH_TASK_TIME_LIMIT = env.int("RESEARCH_TASK_TIME_LIMIT", default=3 * 3600 + 300)
# Tasks run by beat, by name; the queue is chosen by the task routing in workers/celery.py.
CELERY_BEAT_SCHEDULE = {
    "alert-deliveries-sweep": {"task": "apps.alerts.tasks.alert_deliveries_sweep", "schedule": 60.0},
    "worker-heartbeat": {"task": "apps.core.tasks.worker_heartbeat", "schedule": 15.0},
    "research-jobs-reap": {
        "task": "apps.research.tasks.research_jobs_reap",
        "schedule": max(1, RESEARCH_JOB_LEASE_S // 2),  # whole seconds: django-celery-beat stores an int
    },
}
# A worker whose last heartbeat is older than this is reported down by /healthz.
WORKER_HEARTBEAT_MAX_AGE_S = env.int("WORKER_HEARTBEAT_MAX_AGE_S", default=90)

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
