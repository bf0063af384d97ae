"""GET /healthz: every dependency probed for real; 200 only when all are up."""

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from apps.core.models import WorkerHeartbeat
from apps.core.services import worker_heartbeat_record

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.django_db
def test_healthz_is_public_and_ok_with_a_fresh_heartbeat(client):
    worker_heartbeat_record(hostname="celery@test")
    resp = client.get("/healthz")
    body = resp.json()
    assert resp.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "channel_layer", "worker"}
    assert all(c["ok"] for c in body["checks"].values())


@pytest.mark.django_db
def test_healthz_503_without_worker_heartbeat(client):
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.json()["checks"]["worker"] == {"ok": False, "detail": "no heartbeat yet"}


@pytest.mark.django_db
def test_healthz_503_when_heartbeat_is_stale(client, settings):
    WorkerHeartbeat.objects.create(hostname="celery@old", seen_at=timezone.now() - timedelta(minutes=10))
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert not resp.json()["checks"]["worker"]["ok"]
    assert "celery@old" in resp.json()["checks"]["worker"]["detail"]


def test_healthz_503_when_database_unreachable(tmp_path):
    """A real process configured with a PostgreSQL URL where nothing listens."""
    code = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/healthz');"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tradingsite.settings",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/nowhere",
    }
    env.pop("REDIS_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == 503
    checks = result["body"]["checks"]
    assert checks["database"]["ok"] is False
    assert "OperationalError" in checks["database"]["detail"]
    assert checks["worker"] == {"ok": False, "detail": "unknown: database down"}


@pytest.mark.django_db(transaction=True)
def test_heartbeat_task_runs_on_a_real_worker():
    """The task goes through the configured broker (Redis in CI, in-memory otherwise) to a worker
    thread and writes the heartbeat row /healthz reads."""
    from celery.contrib.testing.worker import start_worker

    from apps.core.tasks import worker_heartbeat
    from workers.celery import app

    with start_worker(app, perform_ping_check=False, pool="solo", queues=["default"], shutdown_timeout=10):
        worker_heartbeat.apply_async(queue="default")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not WorkerHeartbeat.objects.exists():
            time.sleep(0.2)
    beat = WorkerHeartbeat.objects.get()
    assert timezone.now() - beat.seen_at < timedelta(seconds=30)
