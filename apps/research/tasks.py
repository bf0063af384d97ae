"""Research tasks: thin wrappers that take an id and call the service. Routed to the `research`
queue by workers/celery.py (apps.research.tasks.*), except the reaper, which beat runs on `default`
so that a queue full of long backtests cannot delay it. Idempotency lives in the services (a run
is claimed with a conditional queued -> running update and a lease), so acks_late re-deliveries
are harmless. The services enqueue these by name (services.jobs.TASKS)."""

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from .services.jobs import jobs_reap
from .services.runs import backtest_execute, training_execute
from .services.search import search_advance

# A research job may take a while, but never forever: soft limit -> the run is marked failed with
# "time limit exceeded"; the hard limit kills a worker stuck in native code.
SOFT_LIMIT = settings.RESEARCH_TASK_SOFT_TIME_LIMIT
HARD_LIMIT = settings.RESEARCH_TASK_TIME_LIMIT
# A database that is briefly unavailable or locked (SQLite's single writer in the demo) when the
# task claims its row would otherwise leave the run queued for ever: retry the task, with backoff.
RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 2, "retry_jitter": True, "max_retries": 8}


@shared_task(acks_late=True, soft_time_limit=SOFT_LIMIT, time_limit=HARD_LIMIT, **RETRY)
def backtest_run(run_id: int) -> str:
    return backtest_execute(run_id=run_id)


@shared_task(acks_late=True, soft_time_limit=SOFT_LIMIT, time_limit=HARD_LIMIT, **RETRY)
def training_run(run_id: int) -> str:
    return training_execute(run_id=run_id)


@shared_task(acks_late=True, soft_time_limit=600, time_limit=900, **RETRY)
def search_rank(search_id: int, generation: int) -> str:
    return search_advance(search_id=search_id, generation=generation)


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def research_jobs_reap() -> int:
    """Beat: re-queue, fail or cancel the runs whose worker was lost (lease expired)."""
    return jobs_reap()
