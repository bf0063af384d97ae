"""Research jobs through a real Celery worker (the configured broker: Redis when REDIS_URL is set,
the in-memory transport otherwise) on the `research` queue."""

from __future__ import annotations

import pytest
from celery.contrib.testing.worker import start_worker

from apps.research.models import BacktestRun, ParameterSearch, RunEvent, Status
from apps.research.services.runs import backtest_submit
from apps.research.services.search import search_submit
from apps.research.tasks import backtest_run
from tests.support.waiting import wait_for
from workers.celery import app

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_backtest_and_redelivery_on_a_real_worker(strategy, people):
    with start_worker(
        app, pool="threads", concurrency=2, queues=["research"], perform_ping_check=False, shutdown_timeout=30
    ):
        run = backtest_submit(strategy=strategy, actor=people["quinn"])
        wait_for(lambda: BacktestRun.objects.get(pk=run.pk).is_terminal, 120)
        # The same message again (as after a lost ack): the worker consumes it and does nothing.
        result_before = BacktestRun.objects.get(pk=run.pk)
        again = [backtest_run.apply_async(args=[run.pk]) for _ in range(2)]
        assert [r.get(timeout=60) for r in again] == ["skipped", "skipped"]
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED, run.error
    assert run.celery_task_id and run.finished_at == result_before.finished_at
    assert RunEvent.objects.filter(backtest=run, to_status="running").count() == 1


def test_search_fans_out_to_workers_and_is_ranked(strategy, people):
    with start_worker(
        app, pool="threads", concurrency=2, queues=["research"], perform_ping_check=False, shutdown_timeout=30
    ):
        search = search_submit(
            strategy=strategy,
            actor=people["quinn"],
            method="grid",
            param_space={"model.fast": [5, 20], "model.slow": [50, 100]},
            objective="sharpe",
        )
        wait_for(lambda: ParameterSearch.objects.get(pk=search.pk).is_terminal, 120)
    search.refresh_from_db()
    assert search.status == Status.SUCCEEDED, search.events.last().reason
    assert search.generation_done == 4 and len(search.results) == 4
    assert [r["rank"] for r in search.results] == [1, 2, 3, 4]
    assert all(r["status"] == "succeeded" for r in search.results)
    scores = [r["score"] for r in search.results]
    assert scores == sorted(scores, reverse=True)
