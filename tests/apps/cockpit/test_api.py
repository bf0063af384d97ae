"""The cockpit's JSON endpoints over HTTP (Django test client, the full middleware stack): every
endpoint as the wrong role, anonymous, a forged POST without the CSRF token, a missing reason,
and the buttons doing what they say through the apps.live services."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from apps.live.selectors import killswitch_effective
from apps.trading.models import Order
from apps.trading.orders import OPEN
from tests.apps.trading.conftest import account, paper_version  # noqa: F401 - fixtures

ACTIONS = ("stop", "cancel", "flat", "unlock")


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def press(c: Client, name: str, action: str, reason: str | None = "test press"):
    data = {} if reason is None else {"reason": reason}
    return c.post(reverse(f"cockpit:api_{action}", args=[name]), data)


@pytest.mark.django_db
def test_anonymous_gets_401_json_everywhere(account):  # noqa: F811
    c = Client()
    for url in (reverse("cockpit:api_snapshot", args=[account.name]), reverse("cockpit:api_desk")):
        r = c.get(url)
        assert r.status_code == 401 and r.json()["ok"] is False
    for action in ACTIONS:
        r = press(c, account.name, action)
        assert r.status_code == 401, action
    assert killswitch_effective(account=account).state == "active"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["victor", "quinn", "bob"])
def test_viewer_quant_and_approver_read_but_every_button_answers_403(people, account, persona):  # noqa: F811
    c = client_for(people[persona])
    snap = c.get(reverse("cockpit:api_snapshot", args=[account.name]))
    assert snap.status_code == 200
    assert snap.json()["can"] == dict.fromkeys(ACTIONS, False)
    assert c.get(reverse("cockpit:api_desk")).status_code == 200
    for action in ACTIONS:
        r = press(c, account.name, action)
        assert r.status_code == 403, (persona, action, r.content)
        assert r.json()["ok"] is False and "may not" in r.json()["detail"]
    assert killswitch_effective(account=account).state == "active"


@pytest.mark.django_db
def test_a_trader_may_not_unlock_and_a_risk_officer_may(people, account, settings):  # noqa: F811
    settings.KILLSWITCH_UNLOCK_FOUR_EYES = False
    alice, rita = client_for(people["alice"]), client_for(people["rita"])
    assert press(alice, account.name, "stop").json() == {
        "ok": True,
        "detail": f"account {account.name}: kill switch stopped",
    }
    assert killswitch_effective(account=account).state == "stopped"
    assert press(alice, account.name, "unlock").status_code == 403
    assert killswitch_effective(account=account).state == "stopped"
    r = press(rita, account.name, "unlock")
    assert r.status_code == 200 and r.json()["ok"]
    assert killswitch_effective(account=account).state == "active"
    # Unlocking what is not locked: the switch's table refuses it (409, never a 500).
    r = press(rita, account.name, "unlock")
    assert r.status_code == 409 and r.json()["ok"] is False


@pytest.mark.django_db
def test_four_eyes_unlock_the_requester_cannot_confirm(people, account, settings):  # noqa: F811
    settings.KILLSWITCH_UNLOCK_FOUR_EYES = True
    rita = client_for(people["rita"])
    press(client_for(people["alice"]), account.name, "stop")
    r = press(rita, account.name, "unlock")
    assert r.status_code == 200 and "second risk officer" in r.json()["detail"]
    assert killswitch_effective(account=account).state == "stopped"
    r = press(rita, account.name, "unlock")
    assert r.status_code == 403 and "four-eyes" in r.json()["detail"]
    assert killswitch_effective(account=account).state == "stopped"


@pytest.mark.django_db
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_missing_reason_is_400(people, account, reason):  # noqa: F811
    r = press(client_for(people["alice"]), account.name, "stop", reason=reason)
    assert r.status_code == 400 and "reason" in r.json()["errors"]
    assert killswitch_effective(account=account).state == "active"


@pytest.mark.django_db
def test_a_forged_post_without_the_csrf_token_is_refused(people, account):  # noqa: F811
    c = Client(enforce_csrf_checks=True)
    c.force_login(people["alice"])
    for action in ACTIONS:
        assert press(c, account.name, action).status_code == 403, action
    assert killswitch_effective(account=account).state == "active"


@pytest.mark.django_db
def test_unknown_account_is_404_and_a_user_without_the_view_permission_403(people, account):  # noqa: F811
    c = client_for(people["alice"])
    assert c.get(reverse("cockpit:api_snapshot", args=["no-such"])).status_code == 404
    assert press(c, "no-such", "stop").status_code == 404
    nobody = client_for(get_user_model().objects.create_user("nobody", password="nobody-pw"))
    assert nobody.get(reverse("cockpit:api_snapshot", args=[account.name])).status_code == 403
    assert nobody.get(reverse("cockpit:api_desk")).status_code == 403
    assert press(nobody, account.name, "stop").status_code == 403


@pytest.mark.django_db
def test_get_on_a_button_is_405_and_post_on_the_snapshot_405(people, account):  # noqa: F811
    c = client_for(people["alice"])
    assert c.get(reverse("cockpit:api_stop", args=[account.name])).status_code == 405
    assert c.post(reverse("cockpit:api_snapshot", args=[account.name])).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_cancel_and_flat_on_a_traded_account(traded, people):
    acct, _version, _runs = traded
    c = client_for(people["alice"])
    assert Order.objects.filter(account=acct, status__in=OPEN).exists()
    r = press(c, acct.name, "cancel")
    assert r.status_code == 200 and r.json()["ok"], r.content
    assert not Order.objects.filter(account=acct, status__in=OPEN).exists()
    snap = c.get(reverse("cockpit:api_snapshot", args=[acct.name])).json()
    assert snap["open_orders"] == []
    r = press(c, acct.name, "flat")
    assert r.status_code == 200 and r.json()["ok"], r.content
    # The paper venue fills FLAT's sells at the next bar: not flat yet, so the switch is STOPPED.
    assert killswitch_effective(account=acct).state in ("flat", "stopped")
    snap = c.get(reverse("cockpit:api_snapshot", args=[acct.name])).json()
    assert snap["kill_switch"]["state"] == killswitch_effective(account=acct).state
    assert {o["symbol"] for o in snap["open_orders"]} == {p["symbol"] for p in snap["positions"]}
