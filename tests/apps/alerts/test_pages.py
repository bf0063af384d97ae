"""/alerts/: in the site layout, everyone on the desk sees the open alerts; traders and risk
officers get the buttons; a POST by any other role answers 403 and changes nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.alerts.models import Alert
from apps.alerts.services import alert_raise

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(account):
    return alert_raise(
        kind="reconciliation_break",
        severity="critical",
        message="AAPL: broker 100, desk 90",
        account=account,
        details={"symbol": "AAPL"},
    )


def _page(client, user) -> str:
    client.force_login(user)
    response = client.get("/alerts/")
    assert response.status_code == 200
    return response.content.decode()


def test_viewer_sees_the_alert_in_the_layout_but_no_buttons(client, people, alert):
    html = _page(client, people["victor"])
    assert 'class="topbar"' in html and 'data-nav="alerts"' in html
    assert f'id="alert-{alert.pk}"' in html and "AAPL: broker 100, desk 90" in html and "paper-1" in html
    assert 'data-action="acknowledge"' not in html and 'data-action="resolve"' not in html


@pytest.mark.parametrize("who", ["alice", "rita"])
def test_trader_and_risk_officer_get_the_buttons(client, people, alert, who):
    html = _page(client, people[who])
    assert 'data-action="acknowledge"' in html and 'data-action="resolve"' in html


@pytest.mark.parametrize("who", ["victor", "quinn", "bob"])
def test_post_by_the_wrong_role_is_403_and_changes_nothing(client, people, alert, who):
    client.force_login(people[who])
    assert client.post(f"/alerts/{alert.pk}/acknowledge/").status_code == 403
    assert client.post(f"/alerts/{alert.pk}/resolve/", {"reason": "forged"}).status_code == 403
    assert Alert.objects.get(pk=alert.pk).status == "open" and alert.events.count() == 1


def test_a_user_without_a_role_cannot_see_the_page(client, people, alert):
    client.force_login(get_user_model().objects.create_user("nobody", password="pw"))
    assert client.get("/alerts/").status_code == 403


def test_acknowledge_then_resolve_from_the_page(client, people, alert):
    client.force_login(people["alice"])
    response = client.post(f"/alerts/{alert.pk}/acknowledge/", follow=True)
    assert f"Alert #{alert.pk} acknowledged." in response.content.decode()
    assert Alert.objects.get(pk=alert.pk).status == "acknowledged"
    html = response.content.decode()
    assert 'data-action="acknowledge"' not in html and "acknowledged by alice" in html

    client.force_login(people["rita"])
    response = client.post(f"/alerts/{alert.pk}/resolve/", {"reason": "position re-synced"}, follow=True)
    html = response.content.decode()
    assert f"Alert #{alert.pk} resolved." in html and "No open alerts." in html
    assert "position re-synced" in html  # in the recently resolved table
    resolved = Alert.objects.get(pk=alert.pk)
    assert resolved.status == "resolved" and resolved.resolved_by == people["rita"]


def test_resolve_without_reason_says_so_and_changes_nothing(client, people, alert):
    client.force_login(people["rita"])
    response = client.post(f"/alerts/{alert.pk}/resolve/", {"reason": ""}, follow=True)
    assert "needs a reason" in response.content.decode()
    assert Alert.objects.get(pk=alert.pk).status == "open"


def test_resolving_twice_says_why(client, people, alert):
    client.force_login(people["rita"])
    client.post(f"/alerts/{alert.pk}/resolve/", {"reason": "done"})
    response = client.post(f"/alerts/{alert.pk}/resolve/", {"reason": "again"}, follow=True)
    assert "cannot take &#x27;resolve&#x27;" in response.content.decode()


def test_get_on_an_action_is_refused(client, people, alert):
    client.force_login(people["rita"])
    assert client.get(f"/alerts/{alert.pk}/resolve/").status_code == 405
