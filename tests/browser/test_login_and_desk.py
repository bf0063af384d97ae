import pytest

from apps.accounts.services import demo_users_create
from apps.core.services import worker_heartbeat_record

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_shows_desk_health_and_roles(live_server, page, login, screenshot):
    demo_users_create(password="browser-pw-123")
    worker_heartbeat_record(hostname="celery@browser")
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    login("alice", "browser-pw-123")
    assert page.url.rstrip("/") == live_server.url
    assert page.locator("h1").inner_text() == "Desk"
    assert page.locator(".who .role").all_inner_texts() == ["trader"]
    rows = page.locator("table.grid tbody tr")
    assert rows.count() == 4
    screenshot("desk_home_alice")


def test_wrong_password_stays_on_login(live_server, page, login):
    demo_users_create(password="browser-pw-123")
    login("alice", "wrong")
    assert "/accounts/login/" in page.url
    assert "didn't match" in page.content()
