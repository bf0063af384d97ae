"""Broadcasting to Channels groups. Only services call this, and only after their transaction
commits, so a listener never sees a state that was rolled back."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

DESK_GROUP = "desk"


def broadcast_on_commit(*, group: str, event: str, payload: dict[str, Any]) -> None:
    def _send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(group, {"type": "desk.event", "event": event, "payload": payload})
        except Exception:  # a dead channel layer must never undo or fail a committed write
            log.exception("broadcast of %s to %s failed", event, group)

    transaction.on_commit(_send)
