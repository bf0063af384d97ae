"""Concurrent raises of one new dedup key on PostgreSQL (real row locks and unique index): one
alert, every raise counted."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from apps.alerts.models import Alert
from apps.alerts.services import alert_raise

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL)"),
]

N = 8


def test_concurrent_raises_of_one_key_make_one_alert():
    barrier = threading.Barrier(N)
    errors = []

    def raise_one(i: int) -> None:
        try:
            barrier.wait()
            alert_raise(
                kind="broker_disconnected", severity="warning", message=f"stream drop {i}", dedup_key="stream"
            )
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=raise_one, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    alert = Alert.objects.get()
    assert alert.count == N and alert.events.count() == 1
