"""The data page and an import run's reject report, server-rendered, behind login and permission."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from apps.accounts.roles import VIEWER
from apps.accounts.services import roles_sync
from apps.marketdata.models import Instrument
from apps.marketdata.services import bars_import

from .conftest import fixture_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client):
    roles_sync()
    user = get_user_model().objects.create_user("victor-md", password="pw-victor-md")
    user.groups.add(Group.objects.get(name=VIEWER))
    client.force_login(user)
    return user


@pytest.fixture
def kaggle_runs():
    path = fixture_file("daily", "kaggle_5yr_subset_30sym_2013_2018.csv.gz")
    rejected = bars_import(path=path, freq="1d", source="kaggle")
    partial = bars_import(path=path, freq="1d", source="kaggle", skip_invalid=True)
    return rejected, partial


def test_login_and_permission_are_required(client):
    url = reverse("marketdata:data")
    assert url == "/data/"
    resp = client.get(url)
    assert resp.status_code == 302 and "/accounts/login/" in resp["Location"]
    nobody = get_user_model().objects.create_user("no-role", password="pw-no-role")
    client.force_login(nobody)
    assert client.get(url).status_code == 403
    assert client.get(reverse("marketdata:import_run", args=[1])).status_code == 403


def test_data_page_lists_coverage_and_import_history(client, viewer, kaggle_runs):
    rejected, partial = kaggle_runs
    Instrument.objects.filter(symbol="AAPL").update(name="Apple Inc.", sector="Information Technology")
    Instrument.objects.create(symbol="ZZNOBARS", name="No Bars Corp")
    resp = client.get(reverse("marketdata:data"))
    assert resp.status_code == 200
    html = resp.content.decode()
    aapl = next(r for r in resp.context["rows"] if r["instrument"].symbol == "AAPL")
    (cov,) = aapl["coverage"]
    assert (cov["frequency"], cov["source"], cov["bars"]) == ("1d", "kaggle", 1259)
    assert (
        "Apple Inc." in html and "2013-02-08 21:00" in html and "2018-02-07 21:00" in html and "1,259" in html
    )
    assert "no bars" in html  # ZZNOBARS: an instrument without prices is shown as such
    assert f'href="/data/imports/{rejected.pk}/"' in html and f'href="/data/imports/{partial.pk}/"' in html
    assert 'class="badge rejected">rejected<' in html and 'class="badge partial">partial<' in html


def test_search_sector_filter_and_pagination(client, viewer):
    Instrument.objects.bulk_create(
        [Instrument(symbol=f"S{i:03d}", sector="Energy" if i % 2 else "Utilities") for i in range(120)]
    )
    Instrument.objects.create(symbol="MSFT", name="Microsoft", sector="Information Technology")
    page1 = client.get(reverse("marketdata:data"))
    assert page1.context["page"].paginator.count == 121 and len(page1.context["rows"]) == 50
    assert "page 1 of 3" in page1.content.decode()
    page3 = client.get(reverse("marketdata:data"), {"page": 3})
    assert [r["instrument"].symbol for r in page3.context["rows"]][-1] == "S119"
    found = client.get(reverse("marketdata:data"), {"q": "micro"})
    assert [r["instrument"].symbol for r in found.context["rows"]] == ["MSFT"]
    energy = client.get(reverse("marketdata:data"), {"sector": "Energy"})
    assert energy.context["page"].paginator.count == 60


def test_import_run_page_shows_the_reject_report(client, viewer, kaggle_runs):
    rejected, _ = kaggle_runs
    resp = client.get(reverse("marketdata:import_run", args=[rejected.pk]))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "rejected (nothing written)" in html and rejected.file_sha256 in html
    assert '<td>missing open</td><td class="num">1</td>' in html
    assert (
        '<td class="num">5088</td><td>BHF</td><td class="mono">2017-07-26</td><td>missing open</td>' in html
    )
    assert client.get(reverse("marketdata:import_run", args=[rejected.pk + 100])).status_code == 404


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("page=garbage", "Page (page): Enter a whole number."),
        ("page=0", "Page (page): Ensure this value is greater than or equal to 1."),
        ("page=9", "Page (page): there is no page 9: the list has 1 page(s)"),
        ("sector=Nope", "Sector (sector): Select a valid choice. Nope is not one of the available choices."),
        ("q=" + "x" * 101, "Search (q): Ensure this value has at most 100 characters (it has 101)."),
        ("date=garbage", "unknown parameter date: this page takes q (Search), sector (Sector), page (Page)"),
        ("bars=5m&date=2020-02-30", "unknown parameters bars, date: this page takes q (Search)"),
        ("q=a&q=b", "parameter given more than once: q"),
    ],
)
def test_bad_query_parameters_get_a_message_and_a_400(client, viewer, params, message):
    Instrument.objects.create(symbol="MSFT", name="Microsoft", sector="Information Technology")
    resp = client.get(reverse("marketdata:data") + "?" + params)
    assert resp.status_code == 400
    html = resp.content.decode()
    assert 'id="query-errors"' in html and message in html.replace("&#x27;", "'")


def test_the_empty_filter_form_is_not_an_error(client, viewer):
    Instrument.objects.create(symbol="MSFT", name="Microsoft", sector="Information Technology")
    resp = client.get(reverse("marketdata:data") + "?q=&sector=&page=1")
    assert resp.status_code == 200 and 'id="query-errors"' not in resp.content.decode()
    sector = client.get(reverse("marketdata:data"), {"sector": "Information Technology", "q": " micro "})
    assert sector.status_code == 200 and [r["instrument"].symbol for r in sector.context["rows"]] == ["MSFT"]
