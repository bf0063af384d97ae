"""The navigation shows each role only the pages it may use (and every link shown opens)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.accounts.roles import ROLES
from apps.accounts.services import roles_sync

pytestmark = pytest.mark.django_db

ALL = {"data", "universe", "strategies", "research", "alerts", "cockpit"}
EXPECTED = {
    "viewer": ALL,
    "trader": ALL,
    "quant": ALL,
    "risk_officer": ALL,
    "approver": ALL | {"approvals"},
    "admin": ALL | {"approvals"},
    None: set(),  # signed in, no role yet
}


@pytest.mark.parametrize("role", [*ROLES, None])
def test_navigation_by_role(client, settings, role):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    roles_sync()
    user = get_user_model().objects.create_user(f"u-{role}", password="pw")
    if role:
        user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    html = client.get("/").content.decode()
    nav = html[html.index("<nav>") : html.index("</nav>")]
    shown = set(re.findall(r'data-nav="([a-z]+)"', nav))
    assert shown == EXPECTED[role]
    for href in re.findall(r'href="([^"]+)"', nav):
        assert client.get(href).status_code == 200, href
