"""The admin shows orders, fills and events read-only: ada (admin) can list and open them, and
no one can add, change or delete them there."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.trading.services import fill_record

from .conftest import broker_fill
from .test_fills import _order

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, people):
    ada = people["ada"]
    get_user_model().objects.filter(pk=ada.pk).update(is_staff=True, is_superuser=True)
    client.force_login(ada)
    return client


@pytest.mark.parametrize("model", ["order", "fill", "orderevent"])
def test_read_only(admin_client, account, model):
    order = _order(account)
    fill, _ = fill_record(order=order, fill=broker_fill(order, "E-1", 10), source="test")
    pk = {"order": order.pk, "fill": fill.pk, "orderevent": order.events.first().pk}[model]
    assert admin_client.get(f"/admin/trading/{model}/").status_code == 200
    page = admin_client.get(f"/admin/trading/{model}/{pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin_client.get(f"/admin/trading/{model}/add/").status_code == 403
    assert admin_client.post(f"/admin/trading/{model}/{pk}/delete/", {"post": "yes"}).status_code == 403
