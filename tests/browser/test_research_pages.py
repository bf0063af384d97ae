"""The research pages a quant meets besides the walkthrough, in real headless Chromium on the demo
data: an hourly starter (the Nasdaq-100 month, which SPY does not cover) says so on its backtest
page; the strategy list and page show the runs' figures; the search form keeps what was typed
when it is refused; the comparison page shows both runs."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.accounts.services import demo_users_create
from apps.research.services.runs import backtest_execute, backtest_submit
from apps.strategies.models import Strategy
from apps.strategies.services import model_version_create, strategy_create
from apps.strategies.starters import starter_config

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_hourly_starter_pages(live_server, page, login, screenshot, monkeypatch):
    monkeypatch.setattr("apps.research.services.runs.job_enqueue", lambda job, task: None)
    call_command("load_demo_data", verbosity=0)
    demo_users_create()
    quinn = get_user_model().objects.get(username="quinn")
    hourly = strategy_create(
        owner=quinn, name="quinn-mr-hourly", config=starter_config("mean_reversion-hourly")
    )
    daily = strategy_create(owner=quinn, name="quinn-mom-daily", config=starter_config("momentum-daily"))
    runs = []
    for strategy in (hourly, daily):
        run = backtest_submit(strategy=strategy, actor=quinn)
        assert backtest_execute(run_id=run.pk) == "succeeded"
        runs.append(run)
    model_version_create(
        strategy=daily,
        created_by=quinn,
        artifact_bytes=None,
        artifact_name="",
        training_window=None,
        data_hash="d" * 64,
        metrics={},
        config=Strategy.objects.get(pk=daily.pk).config,
    )
    login("quinn", "quinn-hourglass")

    page.goto(f"{live_server.url}/research/backtests/{runs[0].pk}/")
    page.wait_for_selector("#benchmark-missing")
    assert "SPY has no bars between 2025-10-01" in page.locator("#benchmark-missing").inner_text()
    assert "SPY (benchmark)" not in page.locator(".legend").first.inner_text()
    screenshot("pages_hourly_backtest_no_benchmark")

    page.goto(f"{live_server.url}/strategies/")
    row = page.locator("tr[data-name='quinn-mom-daily']")
    assert "v1" in row.locator("td.latest").inner_text()
    assert row.locator("td.sharpe a").inner_text() not in ("", "—")
    screenshot("pages_strategy_list")

    page.goto(f"{live_server.url}/strategies/quinn-mom-daily/")
    assert page.locator(f"#strategy-backtests tr[data-run='{runs[1].pk}']").count() == 1
    screenshot("pages_strategy_detail")

    page.click("#new-search")
    page.fill("textarea[name=param_space]", '{"model.lookback": [60, 120], "model.skip": [500]}')
    page.fill("input[name=generations]", "2")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("ul.error")
    assert (
        page.locator("textarea[name=param_space]").input_value()
        == '{"model.lookback": [60, 120], "model.skip": [500]}'
    )
    assert page.locator("input[name=generations]").input_value() == "2"
    assert "model.skip: must be less than lookback" in page.locator("#search-errors").inner_text()
    screenshot("pages_search_form_errors")

    page.goto(f"{live_server.url}/research/compare/?a={runs[0].pk}&b={runs[1].pk}")
    page.wait_for_selector("svg[aria-label='Equity (rebased to 1)']")
    screenshot("pages_compare")
    page.goto(f"{live_server.url}/research/")
    screenshot("pages_research_index")
