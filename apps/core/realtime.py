"""Broadcasting to Channels groups. Only services call this, and only after their transaction
commits, so a listener never sees a state that was rolled back.

Sequenced streams (`stream_publish`): every message on a stream (one per trading account, one for
the desk) carries the stream's next sequence number, taken inside the writer's transaction by an
UPDATE of the stream's row, whose lock is held to the commit: on one stream, numbers follow the
commit order and none is skipped by a committed write. A listener that sees a number jump (a
message lost by the channel layer, a reconnect) reloads a snapshot, which states the sequence it
is consistent with (`stream_seq`, read in the snapshot's transaction). The websocket is never the
source of truth."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import IntegrityError, transaction

log = logging.getLogger(__name__)

DESK_GROUP = "desk"
# The desk-wide stream (the desk kill switch, worker / beat health); each trading account has its own.
DESK_STREAM = "desk"


_sender = threading.local()


def _group_send(layer, group: str, message: dict[str, Any]) -> None:
    """Send from sync code. In a thread of an async server (sync_to_async), through its event
    loop (async_to_sync). Elsewhere (a Celery worker, a command) on an event loop kept by the
    thread, so channels-redis keeps its connection pool: async_to_sync would start a new loop,
    hence a new Redis connection, for every message (measured: 1.8 ms CPU / 2.7 ms per message,
    against 0.15 ms / 0.3 ms on the kept loop)."""
    in_memory = isinstance(layer, InMemoryChannelLayer)  # its locks belong to the server's loop
    if in_memory or getattr(SyncToAsync.threadlocal, "main_event_loop", None) is not None:
        async_to_sync(layer.group_send)(group, message)
        return
    pid_loop = getattr(_sender, "pid_loop", None)
    if (
        pid_loop is None or pid_loop[0] != os.getpid() or pid_loop[1].is_closed()
    ):  # a forked child starts its own
        pid_loop = _sender.pid_loop = (os.getpid(), asyncio.new_event_loop())
    pid_loop[1].run_until_complete(layer.group_send(group, message))


def broadcast_on_commit(*, group: str, event: str, payload: dict[str, Any]) -> None:
    def _send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            _group_send(layer, group, {"type": "desk.event", "event": event, "payload": payload})
        except Exception:  # a dead channel layer must never undo or fail a committed write
            log.exception("broadcast of %s to %s failed", event, group)

    transaction.on_commit(_send)


def stream_group(stream: str) -> str:
    """The Channels group of a stream (group names allow letters, digits, '-', '_' and '.')."""
    return f"stream.{stream}"


def account_stream(account_id: int) -> str:
    """The push stream of one trading account."""
    return f"account.{account_id}"


def _next_seq(stream: str) -> int | None:
    """One UPDATE taking the stream's next number (RETURNING: PostgreSQL, SQLite >= 3.35); None
    when the stream has no row yet."""
    from .models import StreamSequence

    table = StreamSequence._meta.db_table
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET seq = seq + 1 WHERE stream = %s RETURNING seq", [stream])
        row = cursor.fetchone()
    return None if row is None else row[0]


def _lock_account_first(stream: str) -> None:
    """Lock order: the trading account's row before its stream's row. A writer such as
    `orders_create` holds the account row (FOR UPDATE) when it publishes; a writer that publishes
    first and touches the account row only later (PostgreSQL checks Django's deferred foreign keys
    at COMMIT, e.g. a kill switch change's alert row) would otherwise wait for it while holding the
    stream's row: a deadlock (seen in the STOP race test). Taking FOR KEY SHARE on the account
    before the stream's row keeps one order for every writer."""
    if not stream.startswith("account.") or transaction.get_connection().vendor != "postgresql":
        return
    from django.apps import apps as django_apps

    table = django_apps.get_model("trading", "TradingAccount")._meta.db_table
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR KEY SHARE", [int(stream.split(".", 1)[1])])


def stream_publish(*, stream: str, event: str, payload: dict[str, Any]) -> int:
    """Inside the writer's transaction: take the stream's next sequence number and broadcast
    `payload` with it ("seq", "stream") to the stream's group after commit. Returns the number."""
    from .models import StreamSequence

    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("stream_publish must run inside the transaction of the write it announces")
    _lock_account_first(stream)
    seq = _next_seq(stream)
    if seq is None:
        try:
            with transaction.atomic():
                seq = StreamSequence.objects.create(stream=stream, seq=1).seq
        except IntegrityError:  # created concurrently: take the next number after it
            seq = _next_seq(stream)
    broadcast_on_commit(
        group=stream_group(stream), event=event, payload={**payload, "seq": seq, "stream": stream}
    )
    return seq


def stream_seq(stream: str) -> int:
    """The last number published on `stream` (0: none yet). Read it in the same transaction as the
    snapshot it labels."""
    from .models import StreamSequence

    return StreamSequence.objects.filter(stream=stream).values_list("seq", flat=True).first() or 0
