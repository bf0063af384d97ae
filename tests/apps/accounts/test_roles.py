"""Roles are groups with model permissions; demo users exist only in demo/dev settings; every page
requires login except /healthz and the login page."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts.roles import ROLE_PERMISSIONS, ROLES
from apps.accounts.services import DEMO_PERSONAS, demo_users_create, roles_sync

pytestmark = pytest.mark.django_db


def test_roles_sync_creates_every_group_with_its_permissions():
    roles_sync()
    for role in ROLES:
        group = Group.objects.get(name=role)
        have = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        assert have == set(ROLE_PERMISSIONS[role])


def test_demo_users_one_per_role_and_can_log_in(client):
    users = demo_users_create()
    assert {u.role for u in users} == set(ROLES)
    for u in users:
        user = get_user_model().objects.get(username=u.username)
        assert list(user.groups.values_list("name", flat=True)) == [u.role]
        resp = client.post("/accounts/login/", {"username": u.username, "password": u.password})
        assert resp.status_code == 302 and resp["Location"] == "/"
        client.post("/accounts/logout/")


def test_demo_users_refused_outside_demo_mode(settings):
    settings.DEMO_MODE = False
    with pytest.raises(ImproperlyConfigured):
        demo_users_create()
    with pytest.raises(CommandError, match="only created with DEMO_MODE"):
        call_command("create_demo_users")
    assert not get_user_model().objects.filter(username__in=DEMO_PERSONAS.values()).exists()


@pytest.mark.parametrize("path", ["/", "/data/", "/universes/", "/admin/"])
def test_pages_require_login(client, path):
    resp = client.get(path)
    assert resp.status_code == 302
    assert "/login/" in resp["Location"]


def test_login_page_is_public_and_login_logout_work(client):
    assert client.get("/accounts/login/").status_code == 200
    demo_users_create(password="s3cret-demo-pw")
    resp = client.post("/accounts/login/", {"username": "alice", "password": "s3cret-demo-pw"})
    assert resp.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert b"trader" in home.content
    resp = client.post("/accounts/logout/")
    assert resp.status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused(client):
    demo_users_create(password="s3cret-demo-pw")
    resp = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert resp.status_code == 200
    assert b"didn't match" in resp.content


def test_role_table_is_one_read_only_table_with_a_row_per_role():
    assert tuple(ROLE_PERMISSIONS) == ROLES
    with pytest.raises(TypeError):
        ROLE_PERMISSIONS["viewer"] = ()  # type: ignore[index]
    for role, perms in ROLE_PERMISSIONS.items():
        assert isinstance(perms, tuple), role  # rows cannot be extended in place either
        assert len(perms) == len(set(perms)), role
    assert "strategies.decide_promotion" in ROLE_PERMISSIONS["approver"]
    assert "strategies.view_strategy" not in ROLE_PERMISSIONS["quant"]  # object permissions only
