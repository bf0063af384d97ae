"""The README walkthrough, step by step, in real headless Chromium against what `make demo` runs:
`manage.py rundesk --demo` in its own process on a fresh SQLite file (migrate, the real fixtures,
the demo users, the web server with the embedded Celery worker and beat), exactly as a new user
meets it after the README's first command:

quinn the quant creates a strategy from the starter config the form offers, trains it, backtests
it, runs a parameter search (and applies its best parameters as a reviewed draft), and requests
promotion of v1 to candidate with the backtest as evidence; bob the approver approves it."""

import re
import sqlite3

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _query(desk, sql: str, *args):
    """Read the demo desk's own database (read-only), as an operator could."""
    with sqlite3.connect(f"file:{desk.database}?mode=ro", uri=True, timeout=10) as db:
        return db.execute(sql, args).fetchall()


def _wait_for_text(page, selector: str, text: str, timeout_s: float = 180) -> None:
    # A locator, not wait_for_function: the page's CSP forbids the eval Playwright would use. The
    # live status field, or the header badge once the finished page has reloaded (or was already
    # finished when it loaded) and no longer shows the live field.
    page.locator(f"{selector}, h1 .badge", has_text=text).first.wait_for(timeout=timeout_s * 1000)


def test_readme_walkthrough(demo_desk, page, screenshot):
    base = demo_desk.url

    def login(username: str, password: str) -> None:
        page.goto(f"{base}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")

    # 1. log in as quinn (the demo users and their README passwords: <name>-hourglass)
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
    page.wait_for_url(f"{base}/strategies/quinn-ridge/")
    screenshot("flow_1_strategy_created")

    # 3. train: the training page follows the job and shows v1 with its top features
    page.click("button:has-text('Train model')")
    page.wait_for_url(re.compile(r".*/research/training/\d+/$"))
    _wait_for_text(page, "[data-field=status]", "succeeded")
    page.wait_for_selector("#top-features tbody tr")
    screenshot("flow_2_training_done")
    version_sql = (
        "SELECT v.version, v.stage, v.artifact_sha256 FROM strategies_modelversion v"
        " JOIN strategies_strategy s ON s.id = v.strategy_id WHERE s.name = ?"
    )
    [(number, stage, artifact_sha)] = _query(demo_desk, version_sql, "quinn-ridge")
    assert number == 1 and stage == "research" and artifact_sha

    # 4. backtest: progress bar, then the plots and the CSV links
    page.goto(f"{base}/strategies/quinn-ridge/")
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
    page.goto(f"{base}/strategies/quinn-ridge/")
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
    assert _query(demo_desk, "SELECT count(*) FROM strategies_strategy WHERE name LIKE 'quinn-ridge-s%'") == [
        (1,)
    ]

    # 6. request promotion of v1 to candidate with the backtest of step 4
    page.goto(f"{base}/strategies/quinn-ridge/")
    page.wait_for_selector(f"#strategy-backtests tr[data-run='{backtest_id}']")
    page.click("text=Request stage change")
    page.wait_for_selector("#request-form")
    page.select_option("select[name=to_stage]", "candidate")
    page.check(f"input[name=evidence][value='{backtest_id}']")
    page.fill("textarea[name=reason]", "walk-forward OOS backtest on the S&P 500 daily fixture")
    screenshot("flow_5_request_form")
    page.click("#request-form button[type=submit]")
    page.wait_for_url(f"{base}/strategies/quinn-ridge/")
    page.click("button:has-text('Log out')")

    # 7. bob approves on the approvals page, seeing evidence, its equity curve, gates and diff
    login("bob", "bob-hourglass")
    page.click("nav >> text=Approvals")
    card = page.locator(".card.request").filter(has_text="quinn-ridge").first
    assert backtest_url.replace(base, "") in card.inner_html()
    assert card.locator(f".evidence-equity[data-run='{backtest_id}'] svg").count() == 1
    screenshot("flow_6_approvals")
    card.locator("textarea[name=reason]").fill("gates pass; evidence reviewed")
    card.locator("button[value=approve]").click()
    page.wait_for_load_state("networkidle")
    screenshot("flow_7_approved")
    assert [row[1] for row in _query(demo_desk, version_sql, "quinn-ridge")] == ["candidate"]
