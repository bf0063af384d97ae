from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import WorkerHeartbeat
from .realtime import DESK_GROUP, DESK_STREAM, broadcast_on_commit, stream_publish


@transaction.atomic
def worker_heartbeat_record(*, hostname: str, at: datetime | None = None) -> WorkerHeartbeat:
    """Record a worker's heartbeat: every beat to the desk group (the desk page's consumer); on the
    cockpit's desk stream only when the worker check changes (no fresh heartbeat before this one:
    the desk had no live worker), as a `health` message carrying the changed check. A worker going
    silent has no writer: the snapshot's health block and /healthz report it."""
    at = at or timezone.now()
    fresh_after = at - timedelta(seconds=settings.WORKER_HEARTBEAT_MAX_AGE_S)
    was_up = WorkerHeartbeat.objects.filter(seen_at__gte=fresh_after).exists()
    beat, _ = WorkerHeartbeat.objects.update_or_create(hostname=hostname, defaults={"seen_at": at})
    broadcast_on_commit(
        group=DESK_GROUP, event="worker.heartbeat", payload={"hostname": hostname, "at": at.isoformat()}
    )
    if not was_up:
        stream_publish(
            stream=DESK_STREAM,
            event="health",
            payload={"checks": {"worker": {"ok": True, "detail": f"{hostname} up at {at.isoformat()}"}}},
        )
    return beat
