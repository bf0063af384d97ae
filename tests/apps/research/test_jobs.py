"""The research jobs module: task names, leases (a run whose worker was lost is taken over, re-queued,
failed or cancelled, never stuck), a search that still ranks when a child was reaped or failed,
permission first on every submit and cancel, and the append-only event trail. The same story with
a real worker process killed mid-job is in test_worker_loss.py."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.core.statemachine import AppendOnlyError
from apps.research.models import BacktestRun, ParameterSearch, RunEvent, Status
from apps.research.services import runs as runs_service
from apps.research.services.jobs import (
    MAX_ATTEMPTS,
    TASKS,
    LeaseLost,
    Progress,
    job_claim,
    job_lease,
    jobs_reap,
)
from apps.research.services.runs import backtest_execute, backtest_submit, job_cancel, training_submit
from apps.research.services.search import search_advance, search_cancel, search_submit
from workers.celery import app

PAST = timezone.now() - dt.timedelta(hours=1)


def test_every_task_the_services_enqueue_is_registered_and_routed():
    app.loader.import_default_modules()  # what a worker does at start
    from django.conf import settings

    beat = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    for name in [*TASKS.values(), *beat]:
        assert name in app.tasks, f"{name} is enqueued but no task of that name is registered"
    assert "apps.research.tasks.research_jobs_reap" in beat
    route = app.amqp.router.route
    assert route({}, TASKS["backtest"])["queue"].name == "research"
    assert route({}, "apps.research.tasks.research_jobs_reap")["queue"].name == "default"


def _claimed_then_lost(run: BacktestRun, *, attempts: int | None = None) -> BacktestRun:
    """A worker claimed the run, then died: its lease was never renewed."""
    claimed = job_claim(model=BacktestRun, pk=run.pk)
    assert claimed is not None and claimed.status == Status.RUNNING and claimed.attempts == 1
    fields = {"lease_expires_at": PAST}
    if attempts is not None:
        fields["attempts"] = attempts
    BacktestRun.objects.filter(pk=run.pk).update(**fields)
    return BacktestRun.objects.get(pk=run.pk)


@pytest.mark.django_db
def test_redelivery_takes_over_a_run_whose_worker_was_lost(strategy, people):
    run = _claimed_then_lost(backtest_submit(strategy=strategy, actor=people["quinn"]))
    assert backtest_execute(run_id=run.pk) == "succeeded"
    run.refresh_from_db()
    assert run.attempts == 2 and run.lease_owner == "" and run.lease_expires_at is None
    trail = list(run.events.values_list("event", "to_status"))
    assert trail == [("", "queued"), ("start", "running"), ("requeue", "queued"), ("start", "running")] + [
        ("succeed", "succeeded")
    ]
    requeue = run.events.get(event="requeue")
    assert "the worker was lost: the lease of " in requeue.reason and "expired" in requeue.reason


@pytest.mark.django_db
def test_redelivery_while_the_lease_is_alive_does_nothing(strategy, people):
    run = backtest_submit(strategy=strategy, actor=people["quinn"])
    assert job_claim(model=BacktestRun, pk=run.pk) is not None
    assert backtest_execute(run_id=run.pk) == "skipped"  # its worker is still at work
    assert BacktestRun.objects.get(pk=run.pk).status == Status.RUNNING
    assert jobs_reap() == 0


@pytest.mark.django_db
def test_reaper_requeues_a_lost_run_and_fails_it_after_max_attempts(
    strategy, people, django_capture_on_commit_callbacks
):
    run = _claimed_then_lost(backtest_submit(strategy=strategy, actor=people["quinn"]))
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert jobs_reap() == 1
    run.refresh_from_db()
    assert run.status == Status.QUEUED and len(sent) == 1  # its task, enqueued again after commit
    assert backtest_execute(run_id=run.pk) == "succeeded"

    lost = _claimed_then_lost(
        backtest_submit(strategy=strategy, actor=people["quinn"]), attempts=MAX_ATTEMPTS
    )
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert jobs_reap() == 1
    lost.refresh_from_db()
    assert lost.status == Status.FAILED and not sent
    assert lost.error.startswith("worker lost: the worker was lost: the lease of ")
    assert f"gave up after {MAX_ATTEMPTS} attempts" in lost.events.last().reason
    assert lost.events.last().event == "reap"


@pytest.mark.django_db
def test_cancel_of_an_orphan_ends_it_at_once(strategy, people):
    alive = backtest_submit(strategy=strategy, actor=people["quinn"])
    job_claim(model=BacktestRun, pk=alive.pk)
    assert job_cancel(job=alive, actor=people["quinn"]).status == Status.RUNNING  # its worker will stop
    assert alive.cancel_requested

    orphan = _claimed_then_lost(backtest_submit(strategy=strategy, actor=people["quinn"]))
    orphan = job_cancel(job=orphan, actor=people["quinn"])
    assert orphan.status == Status.CANCELLED and orphan.finished_at is not None
    last = orphan.events.last()
    assert last.event == "cancel" and last.actor == people["quinn"] and "the worker was lost" in last.reason


@pytest.mark.django_db
def test_reaper_cancels_an_orphan_whose_cancel_was_requested(strategy, people):
    run = _claimed_then_lost(backtest_submit(strategy=strategy, actor=people["quinn"]))
    BacktestRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    assert jobs_reap() == 1
    run.refresh_from_db()
    assert run.status == Status.CANCELLED and run.events.last().reason.startswith("cancelled by request;")


@pytest.mark.django_db(transaction=True)
def test_heartbeat_renews_the_lease_and_a_lost_lease_stops_the_work(strategy, people, settings):
    settings.RESEARCH_JOB_LEASE_S = 0.6  # renewed every 0.2 s
    run = job_claim(model=BacktestRun, pk=backtest_submit(strategy=strategy, actor=people["quinn"]).pk)
    first = run.lease_expires_at
    with job_lease(run) as progress:
        time.sleep(1.0)
        renewed = BacktestRun.objects.get(pk=run.pk).lease_expires_at
        assert renewed > first + dt.timedelta(seconds=0.5)
        progress(10, "still mine")
    BacktestRun.objects.filter(pk=run.pk).update(lease_owner="another-worker")
    with pytest.raises(LeaseLost, match="was taken over at 20%"):
        Progress(run)(20, "features")


@pytest.mark.django_db
def test_a_run_taken_over_meanwhile_records_nothing(strategy, people, monkeypatch):
    run = backtest_submit(strategy=strategy, actor=people["quinn"])
    real_build = runs_service.panel_build

    def build_then_lose_the_lease(**kw):
        BacktestRun.objects.filter(pk=run.pk).update(lease_owner="the-new-holder")
        return real_build(**kw)

    monkeypatch.setattr(runs_service, "panel_build", build_then_lose_the_lease)
    assert backtest_execute(run_id=run.pk) == "running"
    run.refresh_from_db()
    assert run.metrics == {} and run.lease_owner == "the-new-holder"
    assert list(run.events.values_list("event", flat=True)) == ["", "start"]


def _search(strategy, people, space, django_capture_on_commit_callbacks) -> ParameterSearch:
    with django_capture_on_commit_callbacks(execute=False):
        return search_submit(strategy=strategy, actor=people["quinn"], method="grid", param_space=space)


@pytest.mark.django_db
def test_a_search_whose_child_was_reaped_still_ranks(strategy, people, django_capture_on_commit_callbacks):
    search = _search(strategy, people, {"model.fast": [5, 20]}, django_capture_on_commit_callbacks)
    good, lost = search.runs.order_by("pk")
    with django_capture_on_commit_callbacks(execute=False):
        assert backtest_execute(run_id=good.pk) == "succeeded"
    _claimed_then_lost(lost, attempts=MAX_ATTEMPTS)
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert jobs_reap() == 1
    assert len(sent) == 1  # the ranking task: the reaped child completed the generation
    assert search_advance(search_id=search.pk, generation=0) == "ranked"
    search.refresh_from_db()
    assert search.status == Status.SUCCEEDED and search.n_failed == 1
    assert [r["status"] for r in search.results] == ["succeeded", "failed"]
    assert search.events.last().reason.endswith("; 1 of 2 candidates failed")
    client = Client()
    client.force_login(people["quinn"])
    page = client.get(reverse("research:search_detail", args=[search.pk])).content.decode()
    assert "1 of 2 candidates failed (not ranked; see their runs)" in page


@pytest.mark.django_db
def test_a_search_whose_candidates_all_failed_ends_failed_with_their_reasons(
    strategy, people, django_capture_on_commit_callbacks
):
    space = {"research.start": ["2030-01-01", "2030-02-01"], "research.end": ["2031-01-01"]}
    search = _search(strategy, people, space, django_capture_on_commit_callbacks)
    for child in search.runs.order_by("pk"):
        with django_capture_on_commit_callbacks(execute=False):
            assert backtest_execute(run_id=child.pk) == "failed"
    assert search_advance(search_id=search.pk, generation=0) == "failed"
    search.refresh_from_db()
    assert search.status == Status.FAILED and search.n_failed == 2
    assert search.events.last().reason == "no candidate succeeded (2 evaluated)"
    lines = search.error.splitlines()
    assert lines[0] == "no candidate succeeded (2 evaluated):"
    assert len(lines) == 3 and all(
        "failed: PanelDataError: no 1d bars between 2030-0" in x for x in lines[1:]
    )


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["victor", "alice", "bob"])
def test_only_those_who_may_change_the_strategy_submit_or_cancel(
    strategy, people, who, django_capture_on_commit_callbacks
):
    user = people[who]
    with pytest.raises(PermissionDenied):
        backtest_submit(strategy=strategy, actor=user)
    with pytest.raises(PermissionDenied):  # permission first: not "a rule has no model to train"
        training_submit(strategy=strategy, actor=user)
    with pytest.raises(PermissionDenied):  # permission first: not "unknown search method"
        search_submit(strategy=strategy, actor=user, method="nonsense", param_space={})
    run = backtest_submit(strategy=strategy, actor=people["quinn"])
    backtest_execute(run_id=run.pk)
    with pytest.raises(PermissionDenied):  # whatever the run's state (here: finished)
        job_cancel(job=run, actor=user)
    search = _search(strategy, people, {"model.fast": [5]}, django_capture_on_commit_callbacks)
    with pytest.raises(PermissionDenied):
        search_cancel(search=search, actor=user)
    assert BacktestRun.objects.filter(created_by=user).count() == 0
    assert ParameterSearch.objects.get(pk=search.pk).status == Status.RUNNING


@pytest.mark.django_db
def test_run_events_are_append_only(strategy, people):
    run = backtest_submit(strategy=strategy, actor=people["quinn"])
    event = RunEvent.objects.get(backtest=run)
    event.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
