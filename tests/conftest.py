"""Fixtures for every test package. Keep this file small and generic: app-specific fixtures live
in the conftest.py next to their tests."""

import os

import pytest

# Browser fixtures (chromium, page, login, screenshot) for tests marked `browser`, wherever they live.
pytest_plugins = ["tests.browser_support"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, request):
    """Several people and CI jobs run pytest on one machine at once: each session gets its own
    test database (suffix = process id) so one run never drops another's. --reuse-db keeps the
    shared name, since reuse only makes sense across runs."""
    if request.config.getvalue("reuse_db"):
        return
    from django.conf import settings

    for db in settings.DATABASES.values():
        test = db.setdefault("TEST", {})
        name = test.get("NAME")
        if name == ":memory:" or (not name and db["ENGINE"] == "django.db.backends.sqlite3"):
            continue
        test["NAME"] = f"{name or 'test_' + str(db['NAME'])}_{os.getpid()}"
