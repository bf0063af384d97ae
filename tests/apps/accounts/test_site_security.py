"""Site-wide browser and sign-in security: login throttling, the Content-Security-Policy (and no
inline script or style without the nonce in any template), open redirects through `next`, and no
absolute server path on a page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from apps.accounts.roles import VIEWER
from apps.accounts.services import roles_sync
from apps.marketdata.services import bars_import

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


@pytest.fixture
def alice(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    roles_sync()
    user = get_user_model().objects.create_user("alice", password="alice-pw-123")
    user.groups.add(Group.objects.get(name=VIEWER))
    return user


def _login(client, username: str, password: str, **extra):
    return client.post(LOGIN, {"username": username, "password": password, **extra})


def test_login_is_throttled_per_username_and_address(client, alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "alice", "guess").status_code == 200  # the form again, "didn't match"
    assert _login(client, "alice", "guess").status_code == 429  # the limit-th failure locks
    locked = _login(client, "alice", "alice-pw-123")  # even the right password: locked out
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address is not locked out by the guesses made from this one.
    other = client.__class__(REMOTE_ADDR="10.0.0.9")
    assert _login(other, "alice", "alice-pw-123").status_code == 302


def test_a_success_resets_the_failure_count(client, alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "alice", "guess")
    assert _login(client, "alice", "alice-pw-123").status_code == 302
    client.post("/accounts/logout/")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "alice", "guess")
    assert _login(client, "alice", "alice-pw-123").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "http://testserver.evil/"])
def test_login_never_redirects_off_site(client, alice, target):
    resp = _login(client, "alice", "alice-pw-123", next=target)
    assert resp.status_code == 302 and resp["Location"] == "/"
    page = client.get(f"{LOGIN}?next={target}")
    assert page.status_code in (200, 302) and "evil" not in page.get("Location", "")


def test_logout_never_redirects_off_site(client, alice):
    client.force_login(alice)
    resp = client.post("/accounts/logout/", {"next": "https://evil.example/"})
    assert resp.status_code == 302 and resp["Location"] == reverse("login")


def test_pages_carry_a_strict_content_security_policy(client, alice):
    client.force_login(alice)
    resp = client.get(reverse("home"))
    policy = dict(
        part.strip().split(" ", 1) for part in resp["Content-Security-Policy"].split(";") if part.strip()
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"].startswith("'self'") and "unsafe" not in policy["script-src"]
    assert "unsafe" not in policy["style-src-elem"]
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert client.get(LOGIN)["Content-Security-Policy"]  # the public page too


TEMPLATES = Path(settings.BASE_DIR) / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*\bnonce=)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style(?![^>]*\bnonce=)[^>]*>", re.I)
HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.I)


@pytest.mark.parametrize(
    "path", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES))
)
def test_no_template_has_inline_code_the_policy_would_block(path):
    text = path.read_text()
    for pattern in (INLINE_SCRIPT, INLINE_STYLE, HANDLER, JS_URL):
        assert not pattern.search(text), f"{path.name}: {pattern.search(text).group(0)}"


def test_import_pages_name_the_file_not_its_server_path(client, alice, tmp_path):
    deep = tmp_path / "srv" / "feeds"
    deep.mkdir(parents=True)
    good = deep / "bars-2024.csv"
    good.write_text("symbol,date,open,high,low,close,volume\nAAPL,2024-01-02,10,11,9,10.5,100\n")
    run = bars_import(path=good, freq="1d", source="vendor")
    missing = bars_import(path=deep / "gone.csv", freq="1d", source="vendor")
    client.force_login(alice)
    pages = [
        client.get(reverse("marketdata:data")).content.decode(),
        client.get(reverse("marketdata:import_run", args=[run.pk])).content.decode(),
        client.get(reverse("marketdata:import_run", args=[missing.pk])).content.decode(),
    ]
    assert "bars-2024.csv" in pages[1] and "gone.csv" in pages[2]
    for html in pages:
        assert str(tmp_path) not in html and str(settings.BASE_DIR) not in html


def test_a_successful_login_logs_nothing_and_a_lockout_warns(client, alice, settings, caplog):
    with caplog.at_level("INFO"):
        _login(client, "alice", "alice-pw-123")
    assert [r for r in caplog.records if r.name.startswith("axes")] == []
    client.post("/accounts/logout/")
    with caplog.at_level("INFO"):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            _login(client, "alice", "guess")
    assert any("Locking out" in r.getMessage() for r in caplog.records if r.name.startswith("axes"))
