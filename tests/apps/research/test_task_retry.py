"""A research task whose database is briefly locked or unavailable when it claims its run retries
(with backoff) instead of leaving the run queued for ever; a SQLite database named by URL gets the
same locking settings as the default file (the demo's web, worker and beat threads share it)."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from apps.research import tasks


def test_a_locked_database_at_claim_time_is_retried(monkeypatch):
    calls = []

    def flaky(*, run_id):
        calls.append(run_id)
        if len(calls) < 3:
            raise OperationalError("database is locked")
        return "succeeded"

    monkeypatch.setattr(tasks, "backtest_execute", flaky)
    monkeypatch.setattr(tasks.backtest_run, "retry_backoff", False)
    result = tasks.backtest_run.apply(args=(7,))
    assert result.get() == "succeeded" and calls == [7, 7, 7]


@pytest.mark.parametrize("task", [tasks.backtest_run, tasks.training_run, tasks.search_rank])
def test_every_run_task_retries_database_errors_a_bounded_number_of_times(task):
    assert OperationalError in task.autoretry_for and 0 < task.max_retries <= 10


def test_sqlite_by_url_gets_wal_immediate_and_a_busy_timeout(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    code = (
        "import json, django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'tradingsite.settings'; "
        "from django.conf import settings; print(json.dumps(settings.DATABASES['default']['OPTIONS']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        check=True,
    )
    options = json.loads(out.stdout.strip().splitlines()[-1])
    assert options["timeout"] == 30 and options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]
