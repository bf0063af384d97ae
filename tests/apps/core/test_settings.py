"""Production settings refuse the repository's default SECRET_KEY and DEBUG=True."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _load_production(**env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="tradingsite.settings.production")
    code = "import django; django.setup(); from django.conf import settings; print('DEBUG', settings.DEBUG)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_production_refuses_default_secret_key():
    out = _load_production()
    assert out.returncode != 0
    assert "refuse the default SECRET_KEY" in out.stderr


def test_production_refuses_debug_true():
    out = _load_production(SECRET_KEY="x" * 50, DEBUG="True")
    assert out.returncode != 0
    assert "refuse DEBUG=True" in out.stderr


def test_production_starts_with_a_real_key():
    out = _load_production(SECRET_KEY="k3y-" + "q" * 48)
    assert out.returncode == 0, out.stderr
    assert "DEBUG False" in out.stdout


def test_embedded_defaults_without_env():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.CHANNEL_LAYERS['default']['BACKEND'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        "django.db.backends.sqlite3",
        "memory://localhost/",
        "channels.layers.InMemoryChannelLayer",
    ]


def test_redis_and_postgres_from_env():
    env = {**os.environ, "DATABASE_URL": "postgres://u@db:5432/x", "REDIS_URL": "redis://cache:6379/0"}
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.CHANNEL_LAYERS['default']['BACKEND'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        "django.db.backends.postgresql",
        "redis://cache:6379/0",
        "channels_redis.core.RedisChannelLayer",
    ]


# A realistic production environment: a generated key, the public host, PostgreSQL and Redis,
# the HTTPS origin; nothing that switches a check off.
PRODUCTION_ENV = {
    "SECRET_KEY": "Zq8-vR2_kLm4Xw9TnB7yHc3JpF6dS1aG0eUoIiQzWxEcVbNmKjLhGf",
    "ALLOWED_HOSTS": "desk.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://desk.example.com",
    "DATABASE_URL": "postgres://hourglass@db.internal:5432/hourglass",
    "REDIS_URL": "redis://cache.internal:6379/0",
}


def test_check_deploy_is_clean_with_a_production_environment():
    # Not inherited from the test process: the browser fixtures set DJANGO_ALLOW_ASYNC_UNSAFE.
    dev_only = ("DEBUG", "DEMO_MODE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in dev_only}
    env.update(PRODUCTION_ENV, DJANGO_SETTINGS_MODULE="tradingsite.settings.production")
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "System check identified no issues (0 silenced)." in out.stdout


def _settings_of(code: str, **env_overrides) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("SESSION_AGE_MINUTES",)}
    env.update(env_overrides)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings as s;" + code,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_session_age_is_short_by_default_and_configurable():
    assert _settings_of("print(s.SESSION_COOKIE_AGE, s.SESSION_EXPIRE_AT_BROWSER_CLOSE)") == "28800 True"
    assert _settings_of("print(s.SESSION_COOKIE_AGE)", SESSION_AGE_MINUTES="20") == "1200"


def test_production_serves_https_only():
    env = {**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "tradingsite.settings.production"}
    got = _settings_of(
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)",
        **env,
    )
    assert got == "True 31536000 True True"
