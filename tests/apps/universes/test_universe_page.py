"""The universe page renders real membership and coverage for a logged-in viewer."""

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from apps.accounts.roles import VIEWER
from apps.accounts.services import roles_sync
from apps.marketdata.models import Instrument

from .conftest import POOKSOFT, bars_from_fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client):
    roles_sync()
    user = get_user_model().objects.create_user("victor-test", password="pw-victor-test")
    user.groups.add(Group.objects.get(name=VIEWER))
    client.force_login(user)
    return user


def test_detail_default_shows_sp500_members_and_coverage(client, viewer, sp500):
    day = date(2020, 8, 31)
    bars_from_fixture(POOKSOFT, freq="1d", days={day})
    Instrument.objects.filter(symbol="AAPL").update(name="Apple Inc.", sector="Information Technology")
    resp = client.get(reverse("universes:detail_default"), {"at": "2020-08-31", "freq": "1d"})
    assert resp.status_code == 200
    html = resp.content.decode()
    members = resp.context["coverage"].members
    assert 495 <= len(members) <= 510
    assert f'id="count-members">{len(members)}<' in html
    assert 'id="count-with-bars">9<' in html
    assert f'id="count-missing">{len(members) - 9}<' in html
    assert (
        '<tr data-symbol="AAPL"><td class="mono">AAPL</td><td>Apple Inc.</td><td>Information Technology</td>'
        in html
    )
    assert 'data-symbol="TSLA"' not in html  # not yet a member on 2020-08-31
    assert "Information Technology" in html and "(unknown)" in html  # sector breakdown


def test_latest_bar_date_is_the_default_and_named_universe_url(client, viewer, sp500):
    bars_from_fixture(POOKSOFT, freq="1d", days={date(2020, 12, 21)})
    resp = client.get(reverse("universes:detail", args=["sp500"]), {"freq": "1d"})
    assert resp.status_code == 200
    assert resp.context["at"] == date(2020, 12, 21)
    assert 'data-symbol="TSLA"' in resp.content.decode()


def test_bad_date_is_reported_and_unknown_universe_is_404(client, viewer, sp500):
    resp = client.get(reverse("universes:detail", args=["sp500"]), {"at": "2020-02-30"})
    assert resp.status_code == 400
    assert "Enter a valid date" in resp.content.decode()
    assert client.get(reverse("universes:detail", args=["nope"])).status_code == 404


def test_empty_database_explains_how_to_load(client, viewer):
    resp = client.get(reverse("universes:detail_default"))
    assert resp.status_code == 200
    assert "load_demo_data" in resp.content.decode()


def test_user_without_permission_is_refused(client, sp500):
    user = get_user_model().objects.create_user("nobody", password="pw-nobody")
    client.force_login(user)
    assert client.get(reverse("universes:detail_default")).status_code == 403


def test_admin_lists_universes_and_memberships(client, sp500):
    admin = get_user_model().objects.create_superuser("root-test", password="pw-root-test")
    client.force_login(admin)
    assert client.get(reverse("admin:universes_universe_changelist")).status_code == 200
    resp = client.get(reverse("admin:universes_membership_changelist"), {"q": "JNPR"})
    assert resp.status_code == 200 and "JNPR" in resp.content.decode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("date=garbage", "unknown parameter date: this page takes at (Date), freq (Bars)"),
        ("bars=5m", "unknown parameter bars: this page takes at (Date), freq (Bars)"),
        ("at=garbage", "Date (at): Enter a valid date."),
        ("at=2020-02-30", "Date (at): Enter a valid date."),
        ("freq=5m", "Bars (freq): Select a valid choice. 5m is not one of the available choices."),
        ("at=2020-01-02&at=2020-01-03", "parameter given more than once: at"),
    ],
)
def test_bad_query_parameters_get_a_message_and_a_400(client, viewer, sp500, params, message):
    resp = client.get(reverse("universes:detail", args=["sp500"]) + "?" + params)
    assert resp.status_code == 400
    html = resp.content.decode()
    assert 'id="query-errors"' in html and message in html
    assert "__all__" not in html
