"""Issue 5, as users do it, in real headless Chromium against the real demo fixtures, with the jobs
run by a real Celery worker through the configured broker (Redis in CI):

quinn the quant creates a ridge strategy, trains it, backtests it walk-forward, watches the progress
bar and the result plots, and asks to promote the model version to candidate with the backtest as
evidence; bob the approver approves it on the approvals page."""

import json

import pytest
from django.core.management import call_command

from apps.accounts.services import demo_users_create
from apps.strategies.models import ModelVersion

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CONFIG = {
    "research": {"start": "2013-02-08", "end": "2018-02-07"},
    "walk_forward": {"train_bars": 500, "retrain_every": 63, "mode": "expanding"},
    "optimizer": {"allocator": "topk", "top_k": 10},
}


@pytest.fixture
def research_worker():
    from celery.contrib.testing.worker import start_worker

    from workers.celery import app

    with start_worker(app, perform_ping_check=False, pool="threads", concurrency=1, queues=["research"]):
        yield


def _wait_for_text(page, selector: str, text: str, timeout_s: float = 180) -> None:
    # A locator, not wait_for_function: the page's CSP forbids the eval Playwright would use. The
    # live status field, or the header badge once the finished page has reloaded (or was already
    # finished when it loaded) and no longer shows the live field.
    page.locator(f"{selector}, h1 .badge", has_text=text).first.wait_for(timeout=timeout_s * 1000)


def test_quant_trains_backtests_requests_promotion_and_approver_approves(
    live_server, page, login, screenshot, research_worker
):
    call_command("load_demo_data", verbosity=0)
    demo_users_create(password="flow-pw-123")

    # quinn creates the strategy from the form
    login("quinn", "flow-pw-123")
    page.goto(f"{live_server.url}/strategies/new/")
    page.fill("input[name=name]", "quinn-ridge")
    page.select_option("select[name=kind]", "ridge")
    page.select_option("select[name=universe]", "sp500")
    page.select_option("select[name=frequency]", "1d")
    page.fill("textarea[name=config]", json.dumps(CONFIG))
    page.click("#strategy-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/strategies/quinn-ridge/")
    screenshot("flow_1_strategy_created")

    # train: a TrainingRun on the research queue produces model version v1
    page.click("button:has-text('Train model')")
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/research/")
    page.click("a[href^='/research/training/']")
    _wait_for_text(page, "[data-field=status]", "succeeded")
    screenshot("flow_2_training_done")
    version = ModelVersion.objects.get(strategy__name="quinn-ridge")
    assert version.version == 1 and version.stage == "research"
    assert version.artifact_sha256

    # backtest: watch the progress bar move, then the plots
    page.goto(f"{live_server.url}/strategies/quinn-ridge/")
    page.click("button:has-text('Run backtest')")
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/research/")
    page.click("a[href^='/research/backtests/']")
    page.wait_for_selector(".progress > div")
    _wait_for_text(page, "[data-field=status]", "succeeded")
    page.wait_for_selector("svg[aria-label='Equity vs benchmark']", timeout=30_000)
    for chart in ("Drawdown", "Monthly returns (%)"):
        assert page.locator(f"svg[aria-label='{chart}']").count() == 1, chart
    screenshot("flow_3_backtest_result")
    backtest_url = page.url

    # quinn requests research -> candidate with the backtest as evidence
    page.goto(f"{live_server.url}/strategies/quinn-ridge/")
    page.click("text=Request stage change")
    page.wait_for_load_state("networkidle")
    page.check("input[name=evidence]")
    page.fill("textarea[name=reason]", "walk-forward OOS backtest on the S&P 500 daily fixture")
    screenshot("flow_4_request_form")
    page.click("#request-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.click("button:has-text('Log out')")

    # bob approves on the approvals page, seeing evidence and gate checks
    login("bob", "flow-pw-123")
    page.goto(f"{live_server.url}/strategies/approvals/")
    card = page.locator(".request-card, .card").filter(has_text="quinn-ridge").first
    assert backtest_url.replace(live_server.url, "") in card.inner_html()
    screenshot("flow_5_approvals")
    card.locator("textarea[name=reason]").fill("gates pass; evidence reviewed")
    card.locator("button[value=approve]").click()
    page.wait_for_load_state("networkidle")
    screenshot("flow_6_approved")
    version.refresh_from_db()
    assert version.stage == "candidate"
