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


# Records every Content-Security-Policy violation the page reports (blocked scripts, styles...).
CSP_PROBE = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(
  e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sourceFile || '') + ':' + e.lineNumber));
"""


def test_pages_work_under_the_content_security_policy(live_server, page, login):
    """Every page the desk serves, in Chromium with the policy enforced: no violation, the site's
    stylesheet, the research pages' nonce'd <style> and research.js all apply."""
    from apps.universes.models import Universe

    Universe.objects.create(name="sp500")
    people = make_people()
    strat = make_strategy(people["quinn"], name="quinn-ma")
    mv = make_version(strat, people["quinn"])
    bt = make_backtest(strat, people["quinn"], version=mv)
    page.add_init_script(CSP_PROBE)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    login("ada", "ada-pw")
    paths = [
        "/",
        "/data/",
        "/universes/",
        "/strategies/",
        "/strategies/quinn-ma/",
        "/strategies/approvals/",
        "/research/",
        f"/research/backtests/{bt.pk}/",
        "/strategies/nope/",  # the 404 page
        "/admin/",
    ]
    for path in paths:
        resp = page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        assert resp.headers.get("content-security-policy"), path
        assert page.evaluate("window.__csp") == [], path
        # desk.css applied: the top bar is laid out by the stylesheet, not the browser default.
        if path != "/admin/":
            assert page.eval_on_selector(".topbar", "e => getComputedStyle(e).display") == "flex", path
    page.goto(f"{live_server.url}/research/")
    page.wait_for_load_state("networkidle")
    # research.js ran (it makes sortable headers clickable) and the nonce'd <style> applied.
    assert page.eval_on_selector("table.sortable th", "e => e.style.cursor") == "pointer"
    page.click("table.sortable th >> nth=0")
    assert page.eval_on_selector("table.sortable th", "e => getComputedStyle(e, '::after').content") != "none"
    assert [e for e in errors if "Content Security Policy" in e] == []
