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
