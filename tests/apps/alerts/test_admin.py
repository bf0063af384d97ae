"""The admin shows alerts and deliveries read-only: ada can list and open them (with their events
and attempts), nobody can add, change or delete them there."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.alerts.models import AlertDelivery
from apps.alerts.services import alert_raise

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, people):
    ada = people["ada"]
    get_user_model().objects.filter(pk=ada.pk).update(is_staff=True, is_superuser=True)
    client.force_login(ada)
    return client


@pytest.mark.parametrize("model", ["alert", "alertdelivery"])
def test_read_only(admin_client, settings, model):
    settings.ALERT_CHANNELS = ["email"]
    settings.ALERT_EMAIL_RECIPIENTS = ["risk@desk.example"]
    alert = alert_raise(kind="cycle_failed", severity="critical", message="cycle 14:00 failed")
    pk = {"alert": alert.pk, "alertdelivery": AlertDelivery.objects.get(alert=alert).pk}[model]
    assert admin_client.get(f"/admin/alerts/{model}/").status_code == 200
    page = admin_client.get(f"/admin/alerts/{model}/{pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin_client.get(f"/admin/alerts/{model}/add/").status_code == 403
    assert admin_client.post(f"/admin/alerts/{model}/{pk}/delete/", {"post": "yes"}).status_code == 403
