"""The promotion flow in real headless Chromium: quinn requests candidate with a backtest as
evidence, bob sees the evidence and gate checks on the approvals page and approves."""

from __future__ import annotations

import pytest

from apps.strategies.models import ModelVersion, PromotionRequest, Stage
from tests.browser_support import CHROMIUM

from .conftest import make_backtest, make_people, make_strategy, make_version

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed at /usr/bin/chromium"),
]


def test_request_then_approve_in_the_browser(live_server, page, login, screenshot):
    from apps.universes.models import Universe

    Universe.objects.create(name="sp500")
    people = make_people()
    strat = make_strategy(people["quinn"], name="quinn-ma")
    mv = make_version(strat, people["quinn"])
    bt = make_backtest(strat, people["quinn"], version=mv)

    login("quinn", "quinn-pw")
    page.goto(f"{live_server.url}/strategies/")
    page.click("text=quinn-ma")
    assert page.locator("#versions .badge").first.inner_text() == "research"
    page.click("text=Request stage change")
    page.select_option("select[name=to_stage]", "candidate")
    page.check(f"input[name=evidence][value='{bt.pk}']")
    page.fill("textarea[name=reason]", "OOS Sharpe 1.4 over 240 trades")
    page.click("#request-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Promotion of v1 requested" in page.content()
    page.click("button:has-text('Log out')")

    login("bob", "bob-pw")
    page.goto(f"{live_server.url}/strategies/approvals/")
    req = PromotionRequest.objects.get()
    card = page.locator(f"#request-{req.pk}")
    assert card.locator(f"a[href='/research/backtests/{bt.pk}/']").count() == 1
    assert card.locator("li.gate.pass[data-gate=backtest_oos]").count() == 1
    screenshot("strategies_approvals_bob")
    card.locator("textarea[name=reason]").fill("gates pass, evidence reviewed")
    card.locator("button[value=approve]").click()
    page.wait_for_load_state("networkidle")
    assert f"Request #{req.pk} approved." in page.content()
    assert page.locator("#no-pending").count() == 1
    assert ModelVersion.objects.get(pk=mv.pk).stage == Stage.CANDIDATE
