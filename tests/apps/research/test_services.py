"""Research services on a tiny real dataset: the engine adapter, runs (rule and learned), their
status trail, reproducibility, redelivery, failure and cancel. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from apps.core.statemachine import TransitionError
from apps.marketdata.models import Bar
from apps.marketdata.selectors.panel import PanelDataError, panel_build
from apps.research import tasks
from apps.research.models import JOB_MACHINE, BacktestRun, RunEvent, Status, TrainingRun
from apps.research.services import runs as runs_service
from apps.research.services.runs import (
    backtest_execute,
    backtest_submit,
    job_cancel,
    training_execute,
    training_submit,
)
from apps.strategies.models import ModelVersion

pytestmark = pytest.mark.django_db


def _build(universe, **kw):
    return panel_build(
        universe=universe, frequency="1d", start=dt.date(2016, 1, 1), end=dt.date(2018, 1, 1), **kw
    )


def test_panel_is_point_in_time_float64_and_hashed(tiny_data):
    build = _build(tiny_data)
    p = build.panel
    assert p.symbols == ("AAPL", "GE", "JPM", "KO", "MSFT", "XOM")
    assert p.close.dtype == np.float64 and p.shape == (503, 6)
    ge = p.symbols.index("GE")
    dates = p.index.astype("datetime64[D]")
    # GE leaves on 2017-06-01: a member the day before, not on the day (intervals are [start, end)).
    assert p.member[dates == np.datetime64("2017-05-31"), ge].all()
    assert not p.member[dates >= np.datetime64("2017-06-01"), ge].any()
    assert p.member[:, p.symbols.index("AAPL")].all()
    assert p.sector_names[p.sector[p.symbols.index("XOM")]] == "Energy"
    aapl_first = Bar.objects.filter(instrument__symbol="AAPL", frequency="1d").order_by("ts").first()
    assert p.close[0, 0] == float(aapl_first.close)
    assert _build(tiny_data).data_hash == build.data_hash and len(build.data_hash) == 64
    # Any change of a single price changes the hash.
    Bar.objects.filter(pk=aapl_first.pk).update(close=aapl_first.close + Decimal("0.01"))
    assert _build(tiny_data).data_hash != build.data_hash


def test_panel_rejects_bad_rows_naming_them(tiny_data):
    bar = Bar.objects.filter(instrument__symbol="KO", frequency="1d").order_by("ts")[10]
    Bar.objects.filter(pk=bar.pk).update(high=bar.low - Decimal("1"))
    with pytest.raises(PanelDataError, match=r"1 bar\(s\) with high below low in the database: KO at 2016-"):
        _build(tiny_data)
    Bar.objects.filter(pk=bar.pk).update(high=bar.high, close=Decimal("0"))
    with pytest.raises(PanelDataError, match="non-positive price.*KO"):
        _build(tiny_data)


def test_panel_refuses_an_empty_window(tiny_data):
    with pytest.raises(PanelDataError, match="no 1d bars between 2030-01-01 and 2031-01-01"):
        panel_build(universe=tiny_data, frequency="1d", start=dt.date(2030, 1, 1), end=dt.date(2031, 1, 1))


def test_transition_table_is_enforced():
    assert JOB_MACHINE.next_state("queued", "start") == "running"
    with pytest.raises(TransitionError, match="a research job in state 'succeeded' cannot take 'start'"):
        JOB_MACHINE.next_state("succeeded", "start")


def test_rule_backtest_stores_results_and_reruns_identically(strategy, people):
    first = backtest_submit(strategy=strategy, actor=people["quinn"])
    second = backtest_submit(strategy=strategy, actor=people["quinn"])
    assert backtest_execute(run_id=first.pk) == "succeeded"
    assert backtest_execute(run_id=second.pk) == "succeeded"
    first.refresh_from_db()
    second.refresh_from_db()
    m = first.metrics
    assert m["oos"] is False and m["n_trades"] > 0 and 0 < m["max_drawdown"] < 1 and np.isfinite(m["sharpe"])
    assert first.metrics == second.metrics
    assert first.series["equity"] == second.series["equity"] and len(first.series["equity"]) == 503
    assert first.data_hash == second.data_hash and first.seed == second.seed == 7
    assert first.config == second.config and first.config["model"] == {"fast": 10, "slow": 50}
    assert set(first.series["sector_weights"]) <= {
        "Information Technology",
        "Financials",
        "Energy",
        "Consumer Staples",
        "Industrials",
    }
    assert "2017" in first.series["monthly"] and first.series["costs"]["cost"] > 0
    trail = list(first.events.values_list("event", "from_status", "to_status"))
    assert trail == [("", "", "queued"), ("start", "queued", "running"), ("succeed", "running", "succeeded")]
    assert first.progress == 100 and first.started_at <= first.finished_at


def test_redelivered_task_does_not_run_twice(strategy, people):
    run = backtest_submit(strategy=strategy, actor=people["quinn"])
    assert tasks.backtest_run(run.pk) == "succeeded"
    finished = BacktestRun.objects.get(pk=run.pk).finished_at
    assert tasks.backtest_run(run.pk) == "skipped"  # the same message delivered again
    assert BacktestRun.objects.get(pk=run.pk).finished_at == finished
    assert RunEvent.objects.filter(backtest=run, to_status="running").count() == 1


def test_failed_job_records_error_and_leaves_inputs_intact(strategy, people):
    before = dict(strategy.config)
    cfg = dict(strategy.config, research={"start": "2030-01-01", "end": "2031-01-01"})
    run = backtest_submit(strategy=strategy, actor=people["quinn"], config=cfg)
    assert backtest_execute(run_id=run.pk) == "failed"
    run.refresh_from_db()
    assert run.status == Status.FAILED and "PanelDataError: no 1d bars between 2030-01-01" in run.error
    assert run.metrics == {} and run.finished_at is not None
    strategy.refresh_from_db()
    assert strategy.config == before
    assert run.events.last().to_status == "failed" and "no 1d bars" in run.events.last().reason


def test_cancel_queued_run_is_immediate_and_its_task_noops(strategy, people):
    run = backtest_submit(strategy=strategy, actor=people["quinn"])
    job_cancel(job=run, actor=people["quinn"])
    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    assert backtest_execute(run_id=run.pk) == "skipped"
    assert run.events.last().actor == people["quinn"]


def test_cancel_running_run_stops_at_next_progress_point(strategy, people, monkeypatch):
    run = backtest_submit(strategy=strategy, actor=people["quinn"])
    real_build = runs_service.panel_build

    def build_then_user_cancels(**kw):
        job_cancel(job=BacktestRun.objects.get(pk=run.pk), actor=people["quinn"])
        return real_build(**kw)

    monkeypatch.setattr(runs_service, "panel_build", build_then_user_cancels)
    assert backtest_execute(run_id=run.pk) == "cancelled"
    run.refresh_from_db()
    assert run.status == Status.CANCELLED and run.cancel_requested and run.metrics == {}
    assert "cancelled by request" in run.events.last().reason


def test_learned_strategy_backtest_is_walk_forward_out_of_sample(ridge_strategy, people):
    run = backtest_submit(strategy=ridge_strategy, actor=people["quinn"])
    assert backtest_execute(run_id=run.pk) == "succeeded", BacktestRun.objects.get(pk=run.pk).error
    run.refresh_from_db()
    assert run.metrics["oos"] is True
    # The evaluated period starts after the first 250 training bars.
    assert run.series["index"][0] > "2019-12-01" and len(run.series["index"]) < 505
    wf = run.series["walk_forward"]
    assert wf["n_trained"] >= 1 and wf["predicted_cells"] > 0
    assert run.series["ic"]["summary"]["n_periods"] > 100
    assert run.metrics["benchmark_total_return"] is not None


def test_training_run_creates_a_research_model_version(ridge_strategy, people):
    run = training_submit(strategy=ridge_strategy, actor=people["quinn"])
    assert training_execute(run_id=run.pk) == "succeeded", TrainingRun.objects.get(pk=run.pk).error
    run.refresh_from_db()
    mv = ModelVersion.objects.get(pk=run.model_version_id)
    assert mv.stage == "research" and len(mv.artifact_sha256) == 64 and mv.data_hash == run.data_hash
    assert mv.train_start < mv.train_end and run.metrics["n_train_rows"] > 1000


def test_training_a_rule_strategy_is_refused(strategy, people):
    with pytest.raises(ValueError, match="is a ma_crossover rule: there is no model to train"):
        training_submit(strategy=strategy, actor=people["quinn"])


def test_the_postgresql_packed_bar_read_gives_exactly_what_the_orm_reads(tiny_data):
    """PostgreSQL reads the panel's bars as one server-packed binary value (the live cycle loads a year of bars
    every bar); it must give the ORM query's frame, point in time (`as_of`) and NaN included."""
    from django.db import connection

    from apps.marketdata.selectors import panel as selector

    if connection.vendor != "postgresql":
        pytest.skip("the packed binary read is PostgreSQL's (SQLite reads through the ORM)")
    bar = Bar.objects.filter(instrument__symbol="KO", frequency="1d").order_by("ts")[10]
    with connection.cursor() as cursor:  # what the ORM refuses to write, a database may still hold
        cursor.execute(f"UPDATE {Bar._meta.db_table} SET open = 'NaN' WHERE id = %s", [bar.pk])
    first = Bar.objects.filter(frequency="1d").order_by("known_at").first().known_at
    args = (["AAPL", "GE", "KO", "NOPE"], "1d", dt.date(2016, 1, 1), dt.date(2018, 1, 1))
    for as_of in (None, first + dt.timedelta(days=40)):
        fast = selector._bars_frame_postgres(*args, as_of)
        orm = selector._bars_frame_orm(*args, as_of)
        assert len(fast) > 60
        pd.testing.assert_frame_equal(fast, orm)
    assert np.isnan(fast["open"]).sum() == 1
    with pytest.raises(PanelDataError, match=r"1 bar\(s\) with a missing \(NaN/infinite\) value.*KO"):
        _build(tiny_data)
