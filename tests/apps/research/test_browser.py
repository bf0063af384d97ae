"""Research pages in real headless Chromium: the live progress bar follows the worker's progress
(fetch every second) and the page reloads into the result charts when the run ends; the search
results table sorts on a header click."""

from __future__ import annotations

import pytest

from apps.research.models import BacktestRun
from apps.research.services.runs import backtest_execute, backtest_submit
from tests.browser_support import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed at /usr/bin/chromium"),
]


def test_progress_bar_is_live_and_results_appear(
    live_server,
    page,
    login,
    screenshot,
    strategy,
    people,
    monkeypatch,
):
    # No worker in this test: the run stays queued until the test drives it, like a busy queue.
    monkeypatch.setattr("apps.research.services.runs.job_enqueue", lambda job, task: None)
    run = backtest_submit(strategy=strategy, actor=people["quinn"])
    login("quinn", "quinn-pw")
    page.goto(f"{live_server.url}/research/backtests/{run.pk}/")
    assert page.locator("[data-field=status]").inner_text() == "queued"
    BacktestRun.objects.filter(pk=run.pk).update(status="running", progress=42, progress_message="simulating")
    # A selector, not wait_for_function: the page's CSP forbids the eval Playwright would use.
    page.wait_for_selector(".progress > div[style*='width: 42%']", timeout=10_000)
    assert page.locator("[data-field=message]").inner_text() == "simulating"
    screenshot("research_backtest_progress")
    BacktestRun.objects.filter(pk=run.pk).update(status="queued", progress=0)
    assert backtest_execute(run_id=run.pk) == "succeeded"
    page.wait_for_selector("svg[aria-label='Equity vs benchmark']", timeout=15_000)
    assert page.locator("svg[aria-label='Monthly returns (%)'] rect").count() > 12
    screenshot("research_backtest_result")
