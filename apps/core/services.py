from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .models import WorkerHeartbeat
from .realtime import DESK_GROUP, broadcast_on_commit


@transaction.atomic
def worker_heartbeat_record(*, hostname: str, at: datetime | None = None) -> WorkerHeartbeat:
    at = at or timezone.now()
    beat, _ = WorkerHeartbeat.objects.update_or_create(hostname=hostname, defaults={"seen_at": at})
    broadcast_on_commit(
        group=DESK_GROUP, event="worker.heartbeat", payload={"hostname": hostname, "at": at.isoformat()}
    )
    return beat
