"""System health: each dependency probed for real, with its own error text."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import WorkerHeartbeat


@dataclass(frozen=True)
class Probe:
    ok: bool
    detail: str


def _probe_database() -> Probe:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        return Probe(True, connection.vendor)
    except Exception as exc:  # noqa: BLE001 - any failure means "down", reported with its text
        return Probe(False, f"{type(exc).__name__}: {exc}".strip()[:300])


def _probe_broker() -> Probe:
    from workers.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            return Probe(True, conn.as_uri())
    except Exception as exc:  # noqa: BLE001
        return Probe(False, f"{type(exc).__name__}: {exc}"[:300])


def _probe_channel_layer() -> Probe:
    layer = get_channel_layer()
    if layer is None:
        return Probe(False, "no channel layer configured")
    try:

        async def roundtrip() -> bool:
            channel = await layer.new_channel("healthz.")
            token = uuid.uuid4().hex
            await layer.send(channel, {"type": "healthz.probe", "token": token})
            message = await layer.receive(channel)
            return message.get("token") == token

        ok = async_to_sync(roundtrip)()
        return Probe(ok, type(layer).__name__)
    except Exception as exc:  # noqa: BLE001
        return Probe(False, f"{type(exc).__name__}: {exc}"[:300])


def _probe_worker(db_ok: bool) -> Probe:
    if not db_ok:
        return Probe(False, "unknown: database down")
    last = WorkerHeartbeat.objects.order_by("-seen_at").first()
    if last is None:
        return Probe(False, "no heartbeat yet")
    age = timezone.now() - last.seen_at
    fresh = age <= timedelta(seconds=settings.WORKER_HEARTBEAT_MAX_AGE_S)
    return Probe(
        fresh, f"{last.hostname} last seen {age.total_seconds():.0f}s ago at {last.seen_at.isoformat()}"
    )


def system_health() -> dict:
    database = _probe_database()
    probes = {
        "database": database,
        "broker": _probe_broker(),
        "channel_layer": _probe_channel_layer(),
        "worker": _probe_worker(database.ok),
    }
    return {
        "status": "ok" if all(p.ok for p in probes.values()) else "degraded",
        "checks": {name: asdict(p) for name, p in probes.items()},
        "time": timezone.now().isoformat(),
    }
