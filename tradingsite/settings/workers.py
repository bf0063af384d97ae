"""Celery (broker, queues, beat) and the Channels layer.

Embedded defaults (no REDIS_URL): an in-memory broker with the worker and beat running as threads
of the web process (see workers/embedded.py) and an in-memory channel layer. With REDIS_URL:
Redis carries both, and web, worker and beat run as separate processes.
"""

from celery.schedules import crontab

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
# Redis redelivers a message not acknowledged within this time (acks_late: a task still running).
# The live cycle's limits (LIVE_CYCLE_*_TIME_LIMIT, minutes) stay far below it; research jobs run
# longer and are protected by their leases (a redelivered job finds its run held and waits).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_S", default=3600)}
CELERY_TASK_DEFAULT_QUEUE = "default"
# One queue per kind of work, so a long backtest never delays the live cycle.
# `control` carries kill switch presses only: never behind a running cycle.
CELERY_TASK_QUEUES_NAMES = ["default", "research", "live", "control"]
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=3600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3900)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Research jobs (backtests, training, search children): soft limit raises inside the task so it
# records "failed: time limit"; the hard limit kills it. Enforced by the prefork pool (`make up`);
# the embedded demo's thread pool cannot interrupt a running thread.
RESEARCH_TASK_SOFT_TIME_LIMIT = env.int("RESEARCH_TASK_SOFT_TIME_LIMIT", default=3 * 3600)
RESEARCH_TASK_TIME_LIMIT = env.int("RESEARCH_TASK_TIME_LIMIT", default=3 * 3600 + 300)
# Tasks run by beat, by name; the queue is chosen by the task routing in workers/celery.py.
# How often beat sweeps for due cycles (seconds).
LIVE_SWEEP_S = env.int("LIVE_SWEEP_S", default=30)
CELERY_BEAT_SCHEDULE = {
    "alert-deliveries-sweep": {"task": "apps.alerts.tasks.alert_deliveries_sweep", "schedule": 60.0},
    "worker-heartbeat": {"task": "apps.core.tasks.worker_heartbeat", "schedule": 15.0},
    "research-jobs-reap": {
        "task": "apps.research.tasks.research_jobs_reap",
        "schedule": max(1, RESEARCH_JOB_LEASE_S // 2),  # whole seconds: django-celery-beat stores an int
    },
    # The hourly cycle: at every clock hour of the New York session in UTC (10:00-16:00 ET is
    # 14-20 UTC in summer, 15-21 in winter); the task itself asks the XNYS calendar which bar
    # closed (holidays and 13:00 early closes included) and does nothing between bars.
    "live-cycles-due": {
        "task": "apps.live.tasks.live_cycles_due",
        "schedule": crontab(minute="0", hour="14-21", day_of_week="mon-fri"),
    },
    # The same task as a sweep: a bar whose beat was missed (beat restarting) still gets its cycle,
    # and an accelerated replay (the demo) gets one cycle per replayed bar.
    "live-cycles-sweep": {"task": "apps.live.tasks.live_cycles_due", "schedule": LIVE_SWEEP_S},
}
# A worker whose last heartbeat is older than this is reported down by /healthz.
WORKER_HEARTBEAT_MAX_AGE_S = env.int("WORKER_HEARTBEAT_MAX_AGE_S", default=90)

# The channel layer (the cockpit's push, issue 11). channels-redis DROPS a message silently when
# the receiving channel (one per open websocket) already holds `capacity` messages; the page then
# sees a sequence gap and reloads its snapshot, so a drop is recovered, but it must not be routine.
# Rates: 10 updates/s per account in steady trading (a fill and its order change each); the
# burst is a cycle: up to ~500 orders submitted (one `order` each) and, at the next bar, ~500
# fills + ~500 order changes within a few seconds, all on one account's stream, which every
# cockpit of that account (and the desk overview) receives. 2,000 holds a whole cycle's burst for
# a client that stalls for its duration (~1 MB per channel at ~500 B a message).
# - expiry 30 s: a message nobody read for 30 s is dropped; a client that far behind resyncs
#   from the snapshot anyway (the socket is never the source of truth), and a dead channel's
#   backlog does not linger in Redis.
# - group_expiry 4 days: a websocket stays in its groups this long without re-joining. Past it,
#   channels-redis removes it SILENTLY and no gap can show (nothing arrives at all), so it must
#   outlast a trader's screen left open from Friday's close to Monday's open; what it costs is
#   that a server killed without closing its sockets leaves channels in the groups that long
#   (each send to them is capped by `capacity` and `expiry`).
# redis-py stays below 8 (pinned in pyproject.toml): channels-redis 4.3 consumers crash with
# redis-py 8.x's default socket timeout.
CHANNEL_LAYER_CAPACITY = env.int("CHANNEL_LAYER_CAPACITY", default=2000)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "capacity": CHANNEL_LAYER_CAPACITY,
                "expiry": 30,
                "group_expiry": 4 * 24 * 3600,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": CHANNEL_LAYER_CAPACITY},
        }
    }
