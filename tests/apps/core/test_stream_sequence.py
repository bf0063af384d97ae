"""Sequenced push streams: numbers follow the commit order of one stream without holes left by
committed writes; a rolled-back write sends nothing; concurrent writers on PostgreSQL get distinct
consecutive numbers."""

from __future__ import annotations

import threading

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction

from apps.core.realtime import stream_group, stream_publish, stream_seq

pytestmark = pytest.mark.django_db(transaction=True)


def _listen(stream: str):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(stream_group(stream), channel)
    return layer, channel


def _received(layer, channel, n: int) -> list[dict]:
    return [async_to_sync(layer.receive)(channel) for _ in range(n)]


def test_each_commit_gets_the_next_number_and_is_sent_after_commit():
    layer, channel = _listen("account.1")
    assert stream_seq("account.1") == 0
    for k in range(3):
        with transaction.atomic():
            assert stream_publish(stream="account.1", event="fill", payload={"k": k}) == k + 1
    messages = _received(layer, channel, 3)
    assert [(m["event"], m["payload"]["seq"], m["payload"]["k"]) for m in messages] == [
        ("fill", 1, 0),
        ("fill", 2, 1),
        ("fill", 3, 2),
    ]
    assert stream_seq("account.1") == 3 and stream_seq("account.2") == 0


def test_a_rolled_back_write_sends_nothing_and_leaves_no_hole():
    layer, channel = _listen("desk")
    with pytest.raises(RuntimeError, match="boom"), transaction.atomic():
        stream_publish(stream="desk", event="x", payload={})
        raise RuntimeError("boom")
    with transaction.atomic():
        stream_publish(stream="desk", event="y", payload={})
    [message] = _received(layer, channel, 1)
    assert (message["event"], message["payload"]["seq"]) == ("y", 1)


def test_outside_a_transaction_it_refuses():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        stream_publish(stream="desk", event="x", payload={})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_concurrent_writers_get_distinct_consecutive_numbers():
    got: list[int] = []
    lock = threading.Lock()

    def writer() -> None:
        try:
            for _ in range(25):
                with transaction.atomic():
                    n = stream_publish(stream="account.9", event="x", payload={})
                with lock:
                    got.append(n)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 201))
