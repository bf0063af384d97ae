"""/alerts/ in real headless Chromium: victor (viewer) sees the open alert without buttons; rita
(risk officer) reaches it from the navigation, acknowledges it and resolves it with a reason."""

from __future__ import annotations

import pytest

from apps.alerts.models import Alert
from apps.alerts.services import alert_raise
from tests.browser_support import CHROMIUM

from ..strategies.conftest import make_people

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed at /usr/bin/chromium"),
]


def test_viewer_sees_risk_officer_acknowledges_and_resolves(live_server, page, login, screenshot):
    make_people()
    alert = alert_raise(
        kind="reconciliation_break",
        severity="critical",
        message="AAPL: broker 100, desk 90",
        details={"symbol": "AAPL", "broker": "100", "desk": "90"},
        dedup_key="recon:AAPL",
    )
    alert_raise(
        kind="reconciliation_break",
        severity="critical",
        message="AAPL: broker 100, desk 90",
        dedup_key="recon:AAPL",
    )

    login("victor", "victor-pw")
    page.goto(f"{live_server.url}/alerts/")
    row = page.locator(f"#alert-{alert.pk}")
    assert "AAPL: broker 100, desk 90" in row.inner_text() and row.locator("td.num").inner_text() == "2"
    assert page.locator("[data-action]").count() == 0
    page.click("button:has-text('Log out')")

    login("rita", "rita-pw")
    page.click("nav a[data-nav=alerts]")
    page.wait_for_load_state("networkidle")
    row = page.locator(f"#alert-{alert.pk}")
    screenshot("alerts_open_rita")
    row.locator("[data-action=acknowledge]").click()
    page.wait_for_load_state("networkidle")
    assert f"Alert #{alert.pk} acknowledged." in page.content()
    row = page.locator(f"#alert-{alert.pk}")
    assert row.get_attribute("data-status") == "acknowledged"
    row.locator("input[name=reason]").fill("position re-synced from the broker")
    row.locator("[data-action=resolve]").click()
    page.wait_for_load_state("networkidle")
    assert f"Alert #{alert.pk} resolved." in page.content()
    assert page.locator("#no-alerts").count() == 1
    assert "position re-synced from the broker" in page.locator("#resolved-alerts").inner_text()
    screenshot("alerts_resolved_rita")
    resolved = Alert.objects.get(pk=alert.pk)
    assert resolved.status == "resolved" and resolved.resolved_by.username == "rita"
