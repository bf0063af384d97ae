"""The README walkthrough, step by step, in real headless Chromium against the real demo fixtures,
with the jobs run by a real Celery worker through the configured broker (Redis in CI):

quinn the quant creates a strategy from the starter config the form offers, trains it, backtests
it, runs a parameter search (and applies its best parameters as a reviewed draft), and requests
promotion of v1 to candidate with the backtest as evidence; bob the approver approves it."""

import re

import pytest
from django.core.management import call_command

from apps.accounts.services import demo_users_create
from apps.strategies.models import ModelVersion, Strategy

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


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


def test_readme_walkthrough(live_server, page, login, screenshot, research_worker):
    call_command("load_demo_data", verbosity=0)
    demo_users_create()  # the README's passwords: <name>-hourglass

    # 1. log in as quinn
    login("quinn", "quinn-hourglass")

    # 2. create: the new-strategy form is filled with the daily ridge starter; name it, save
    page.click("text=Strategies")
    page.click("#new-strategy")
    assert page.locator("select[name=kind]").input_value() == "ridge"
    assert page.locator("select[name=frequency]").input_value() == "1d"
    assert page.locator("#starters a[data-starter]").count() >= 5
    assert "2013-02-08" in page.locator("textarea[name=config]").input_value()
    page.fill("input[name=name]", "quinn-ridge")
    screenshot("flow_1_new_strategy_form")
    page.click("#strategy-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/strategies/quinn-ridge/")
    screenshot("flow_1_strategy_created")

    # 3. train: the training page follows the job and shows v1 with its top features
    page.click("button:has-text('Train model')")
    page.wait_for_url(re.compile(r".*/research/training/\d+/$"))
    _wait_for_text(page, "[data-field=status]", "succeeded")
    page.wait_for_selector("#top-features tbody tr")
    screenshot("flow_2_training_done")
    version = ModelVersion.objects.get(strategy__name="quinn-ridge")
    assert version.version == 1 and version.stage == "research" and version.artifact_sha256

    # 4. backtest: progress bar, then the plots and the CSV links
    page.goto(f"{live_server.url}/strategies/quinn-ridge/")
    page.click("button:has-text('Run backtest')")
    page.wait_for_url(re.compile(r".*/research/backtests/\d+/$"))
    backtest_url = page.url
    _wait_for_text(page, "[data-field=status]", "succeeded")
    page.wait_for_selector("svg[aria-label='Equity vs benchmark']", timeout=30_000)
    for chart in ("Drawdown", "Monthly returns (%)", "Weights by sector", "Cost breakdown", "Rank IC"):
        assert page.locator(f"svg[aria-label='{chart}']").count() == 1, chart
    assert page.locator("#benchmark-missing").count() == 0  # SPY daily covers 2013-2018
    assert page.locator("#exports a").count() == 3
    screenshot("flow_3_backtest_result")
    backtest_id = int(backtest_url.rstrip("/").rsplit("/", 1)[1])

    # 5. search: the form offers the kind's grid; rank, sensitivity, apply the best as a draft
    page.goto(f"{live_server.url}/strategies/quinn-ridge/")
    page.click("#new-search")
    assert "model.alpha" in page.locator("textarea[name=param_space]").input_value()
    page.click("#search-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/research/searches/\d+/$"))
    _wait_for_text(page, "[data-field=status]", "succeeded", timeout_s=300)
    page.wait_for_selector("#sensitivity [data-param='model.alpha']")
    screenshot("flow_4_search_ranked")
    page.click("#apply-best")
    page.wait_for_selector("#apply-form")
    screenshot("flow_4_apply_best_review")
    page.check("input[name=confirm]")
    page.click("#apply-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/strategies/quinn-ridge-s\d+/$"))
    assert Strategy.objects.filter(name__startswith="quinn-ridge-s").count() == 1

    # 6. request promotion of v1 to candidate with the backtest of step 4
    page.goto(f"{live_server.url}/strategies/quinn-ridge/")
    page.wait_for_selector(f"#strategy-backtests tr[data-run='{backtest_id}']")
    page.click("text=Request stage change")
    page.wait_for_selector("#request-form")
    page.select_option("select[name=to_stage]", "candidate")
    page.check(f"input[name=evidence][value='{backtest_id}']")
    page.fill("textarea[name=reason]", "walk-forward OOS backtest on the S&P 500 daily fixture")
    screenshot("flow_5_request_form")
    page.click("#request-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/strategies/quinn-ridge/")
    page.click("button:has-text('Log out')")

    # 7. bob approves on the approvals page, seeing evidence, its equity curve, gates and diff
    login("bob", "bob-hourglass")
    page.click("nav >> text=Approvals")
    card = page.locator(".card.request").filter(has_text="quinn-ridge").first
    assert backtest_url.replace(live_server.url, "") in card.inner_html()
    assert card.locator(f".evidence-equity[data-run='{backtest_id}'] svg").count() == 1
    screenshot("flow_6_approvals")
    card.locator("textarea[name=reason]").fill("gates pass; evidence reviewed")
    card.locator("button[value=approve]").click()
    page.wait_for_load_state("networkidle")
    screenshot("flow_7_approved")
    version.refresh_from_db()
    assert version.stage == "candidate"
